"""Fewer index entries per purchase: the partner API's hot tables lose the single-column indexes
that composite ones already serve, and the optional causes of ledger entries get partial indexes
(an entry without such a cause writes nothing to them).

Django's own AlterField of a foreign key's db_index drops and re-adds the foreign key
constraint, re-checking every row of the ledger under lock. Only the indexes are dropped here;
the model state changes as AlterField says.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


# (table, column) of each index dropped; Django's names for them.
DROPPED = {
    "loyalty_idempotencyrecord_partner_id_9bc16929": ("loyalty_idempotencyrecord", "partner_id"),
    "loyalty_ledgerentry_cause_type_id_2972e9fe": ("loyalty_ledgerentry", "cause_type_id"),
    "loyalty_ledgerentry_member_id_92bf20bb": ("loyalty_ledgerentry", "member_id"),
    "loyalty_ledgerentry_reverses_id_313fc9e8": ("loyalty_ledgerentry", "reverses_id"),
    "loyalty_ledgerentry_staff_user_id_24e7d4cf": ("loyalty_ledgerentry", "staff_user_id"),
    "loyalty_purchase_member_id_99156bce": ("loyalty_purchase", "member_id"),
    "loyalty_purchase_partner_id_1e1a9403": ("loyalty_purchase", "partner_id"),
    "loyalty_purchase_payment_fingerprint_12c77d64": ("loyalty_purchase", "payment_fingerprint"),
}
# PostgreSQL only: the LIKE index Django adds to an indexed text column.
FINGERPRINT_LIKE = "loyalty_purchase_payment_fingerprint_12c77d64_like"


def drop_indexes(apps, schema_editor):
    for name in [*DROPPED, FINGERPRINT_LIKE]:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def create_indexes(apps, schema_editor):
    for name, (table, column) in DROPPED.items():
        schema_editor.execute(f'CREATE INDEX "{name}" ON "{table}" ("{column}")')
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'CREATE INDEX "{FINGERPRINT_LIKE}" ON "loyalty_purchase" '
            '("payment_fingerprint" varchar_pattern_ops)'
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_member_tier_grace_until"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("loyalty", "0006_big_points_on_purchases"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="idempotencyrecord",
                    name="partner",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.partner",
                    ),
                ),
                migrations.AlterField(
                    model_name="ledgerentry",
                    name="cause_type",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="contenttypes.contenttype",
                    ),
                ),
                migrations.AlterField(
                    model_name="ledgerentry",
                    name="member",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="ledger_entries",
                        to="accounts.member",
                    ),
                ),
                migrations.AlterField(
                    model_name="ledgerentry",
                    name="reverses",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="reversals",
                        to="loyalty.ledgerentry",
                    ),
                ),
                migrations.AlterField(
                    model_name="ledgerentry",
                    name="staff_user",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="purchase",
                    name="member",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="purchases",
                        to="accounts.member",
                    ),
                ),
                migrations.AlterField(
                    model_name="purchase",
                    name="partner",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="purchases",
                        to="accounts.partner",
                    ),
                ),
                migrations.AlterField(
                    model_name="purchase",
                    name="payment_fingerprint",
                    field=models.CharField(
                        blank=True, max_length=128, null=True, verbose_name="payment fingerprint"
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
        ),
        migrations.AddIndex(
            model_name="ledgerentry",
            index=models.Index(
                condition=models.Q(("cause_type__isnull", False)),
                fields=["cause_type", "cause_id"],
                name="entry_by_cause",
            ),
        ),
        migrations.AddIndex(
            model_name="ledgerentry",
            index=models.Index(
                condition=models.Q(("staff_user__isnull", False)),
                fields=["staff_user"],
                name="entry_by_staff_user",
            ),
        ),
        migrations.AddIndex(
            model_name="ledgerentry",
            index=models.Index(
                condition=models.Q(("reverses__isnull", False)),
                fields=["reverses"],
                name="entry_by_reversed_entry",
            ),
        ),
        migrations.AddIndex(
            model_name="purchase",
            index=models.Index(
                condition=models.Q(("payment_fingerprint__isnull", False)),
                fields=["payment_fingerprint"],
                name="purchase_by_fingerprint",
            ),
        ),
    ]
