"""`member_id` on webhook events and their deliveries (loyalty.base.distribution): the member
the event is about. Older rows are filled by `manage.py member_ids_fill` (loyalty.base.backfill)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),  # (the members table: nothing later)
        ("webhooks", "0004_failed_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookdelivery",
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
            model_name="webhookevent",
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
