"""The one exception to the ledger's append-only rule: an erasure (loyalty.core.erasure) may
blank a person's name, e-mail address or member number quoted in an entry's `description` or
staff `reason`, and only while it runs: it sets `loyalty.erasing` to 'on' in its transaction
(SET LOCAL, loyalty.core.erasure.ledger_texts_erasable). Any other change of an entry, from
any other code path, and any delete, is still refused (PostgreSQL; SQLite has no trigger and
relies on the model's guard); the points, the balance and the cause of an entry never change.
Lot movements stay fully append-only.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION loyalty_ledgerentry_guard() RETURNS trigger AS $$
DECLARE
    kept loyalty_ledgerentry%ROWTYPE;
BEGIN
    IF TG_OP = 'UPDATE' AND current_setting('loyalty.erasing', true) = 'on' THEN
        kept := NEW;
        kept.description := OLD.description;
        kept.reason := OLD.reason;
        IF kept IS NOT DISTINCT FROM OLD THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'loyalty: % rows are append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)
    schema_editor.execute("DROP TRIGGER IF EXISTS loyalty_ledgerentry_append_only ON loyalty_ledgerentry")
    schema_editor.execute(
        "CREATE TRIGGER loyalty_ledgerentry_append_only BEFORE UPDATE OR DELETE "
        "ON loyalty_ledgerentry FOR EACH ROW EXECUTE FUNCTION loyalty_ledgerentry_guard()"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP TRIGGER IF EXISTS loyalty_ledgerentry_append_only ON loyalty_ledgerentry")
    schema_editor.execute(
        "CREATE TRIGGER loyalty_ledgerentry_append_only BEFORE UPDATE OR DELETE "
        "ON loyalty_ledgerentry FOR EACH ROW EXECUTE FUNCTION loyalty_refuse_change()"
    )
    schema_editor.execute("DROP FUNCTION IF EXISTS loyalty_ledgerentry_guard()")


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0011_anomaly")]

    operations = [migrations.RunPython(forwards, backwards)]
