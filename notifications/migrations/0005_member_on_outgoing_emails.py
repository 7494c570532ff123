"""`member_id` on the e-mail outbox (loyalty.base.distribution): the member an e-mail is for,
when there is one. Older rows of members' messages are filled by `manage.py member_ids_fill`
(loyalty.base.backfill)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),  # (the members table: nothing later)
        ("notifications", "0004_failed_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="outgoingemail",
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
