"""`member_id` on answer reports and published cases, copied from their item
(loyalty.base.distribution). Older rows are filled by `manage.py member_ids_fill`
(loyalty.base.backfill)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),  # (the members table: nothing later)
        ("feedback", "0002_policies_schedule_managers"),
    ]

    operations = [
        migrations.AddField(
            model_name="feedbackanswer",
            name="member",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.member",
            ),
        ),
        migrations.AddField(
            model_name="publishedcase",
            name="member",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.member",
            ),
        ),
    ]
