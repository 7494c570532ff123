"""`member_id` on webhook events and their deliveries (loyalty.base.distribution): the member
the event is about. Older events find it by the member number in their payload (an erased
member's old events, whose number is blanked, keep none); deliveries copy their event's. Filled
batch by batch (loyalty.base.backfill); housekeeping deletes old events anyway."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty.base.backfill import fill_in_batches

BY_NUMBER = {
    "postgresql": "t.payload -> 'data' ->> 'member_number'",
    "sqlite": "json_extract(t.payload, '$.data.member_number')",
}
EVENT = "SELECT e.member_id FROM webhooks_webhookevent e WHERE e.id = t.event_id"


def fill(apps, schema_editor):
    connection = schema_editor.connection
    number = BY_NUMBER[connection.vendor]
    member = f"SELECT m.id FROM accounts_member m WHERE m.member_number = {number}"
    fill_in_batches(connection, "webhooks_webhookevent", "member_id", member)
    fill_in_batches(connection, "webhooks_webhookdelivery", "member_id", EVENT)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_points_pending_and_return_window"),
        ("webhooks", "0004_failed_index"),
    ]

    atomic = False  # the fill commits batch by batch

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
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
