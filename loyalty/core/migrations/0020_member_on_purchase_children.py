"""`member_id` on purchase lines, refunds and refund lines, copied from their purchase: every
row that hangs off a member carries it, so the tables can be distributed by member later
(docs/SCALING.md, "Cheap now"). Adding the column is a change of the catalogue only (nullable,
no default, no index, no constraint); the fill is an UPDATE of each table in batches of ids,
each batch its own transaction (loyalty.base.backfill), so writes go on meanwhile. Rows
written meanwhile already carry it (the services write it)."""

import django.db.models.deletion
from django.db import migrations, models

from loyalty.base.backfill import fill_in_batches

# table -> how a row finds its member (the purchase's, through the parent it hangs off)
SOURCES = {
    "loyalty_purchaseline": "SELECT p.member_id FROM loyalty_purchase p WHERE p.id = t.purchase_id",
    "loyalty_refund": "SELECT p.member_id FROM loyalty_purchase p WHERE p.id = t.purchase_id",
    "loyalty_refundline": "SELECT r.member_id FROM loyalty_refund r WHERE r.id = t.refund_id",
}


def fill(apps, schema_editor):
    """Fill member_id where it is missing (refunds before their lines)."""
    for table, source in SOURCES.items():
        fill_in_batches(schema_editor.connection, table, "member_id", source)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_points_pending_and_return_window"),
        ("loyalty", "0019_prepare_function"),
    ]

    atomic = False  # the fill commits batch by batch

    operations = [
        migrations.AddField(
            model_name="purchaseline",
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
            model_name="refund",
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
            model_name="refundline",
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
