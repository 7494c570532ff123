"""`member_id` on lot movements, copied from their entry (as loyalty/0020 did for the purchase's
children). Lot movements are append-only (loyalty/0002): each batch of the fill lifts the
trigger inside its own transaction only (loyalty.base.backfill), so no other session sees it off;
their writes to lot movements wait for the batch."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty.base.backfill import fill_in_batches

SOURCE = "SELECT e.member_id FROM loyalty_ledgerentry e WHERE e.id = t.entry_id"


def fill(apps, schema_editor):
    fill_in_batches(
        schema_editor.connection, "loyalty_lotmovement", "member_id", SOURCE, append_only=True
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_points_pending_and_return_window"),
        ("loyalty", "0020_member_on_purchase_children"),
    ]

    atomic = False  # the fill commits batch by batch

    operations = [
        migrations.AddField(
            model_name="lotmovement",
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
