"""`member_id` on vouchers, copied from their redemption (loyalty.base.distribution); older
rows filled batch by batch (loyalty.base.backfill)."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty.base.backfill import fill_in_batches

# table -> how an older row finds its member
SOURCES = {
    "rewards_voucher": "SELECT r.member_id FROM rewards_redemption r WHERE r.id = t.redemption_id",
}


def fill(apps, schema_editor):
    for table, source in SOURCES.items():
        fill_in_batches(schema_editor.connection, table, "member_id", source)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_points_pending_and_return_window"),
        ("rewards", "0005_saving_goal"),
    ]

    atomic = False  # the fill commits batch by batch

    operations = [
        migrations.AddField(
            model_name="voucher",
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
