"""`member_id` on purchase lines, refunds and refund lines, copied from their purchase: every
row that hangs off a member carries it, so the tables can be distributed by member later
(docs/SCALING.md, "Cheap now"). Adding the column is a change of the catalogue only (nullable,
no default, no index, no constraint); the fill is an UPDATE of each table in batches of ids,
each batch its own transaction, so writes go on meanwhile and a large table does not hold one
long lock. Rows written meanwhile already carry it (the services write it)."""

import django.db.models.deletion
from django.db import migrations, models, transaction

BATCH = 100_000

# table -> how a row finds its member (the purchase's, through the parent it hangs off)
SOURCES = {
    "loyalty_purchaseline": "SELECT p.member_id FROM loyalty_purchase p WHERE p.id = t.purchase_id",
    "loyalty_refund": "SELECT p.member_id FROM loyalty_purchase p WHERE p.id = t.purchase_id",
    "loyalty_refundline": "SELECT r.member_id FROM loyalty_refund r WHERE r.id = t.refund_id",
}


def fill(apps, schema_editor):
    """Fill member_id where it is missing, batch by batch of ids (refunds before their lines)."""
    connection = schema_editor.connection
    for table, source in SOURCES.items():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT MIN(id), MAX(id) FROM {table} WHERE member_id IS NULL")
            first, last = cursor.fetchone()
        if first is None:
            continue
        for start in range(first, last + 1, BATCH):
            with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} AS t SET member_id = ({source}) "
                    "WHERE t.member_id IS NULL AND t.id >= %s AND t.id < %s",
                    [start, start + BATCH],
                )


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
