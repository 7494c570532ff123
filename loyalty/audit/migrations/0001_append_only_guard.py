"""On PostgreSQL, the audit records refuse UPDATE and DELETE: only an erasure's scrub (which sets
loyalty.audit_rewrite for its transaction) may rewrite a record, and a staff user deleted leaves
their records with no actor. SQLite (the demo) has no guard: the admin alone keeps it there."""

from django.db import migrations

GUARD = """
CREATE OR REPLACE FUNCTION audit_logentry_append_only() RETURNS trigger AS $$
BEGIN
    IF current_setting('loyalty.audit_rewrite', true) = 'on' THEN
        RETURN COALESCE(NEW, OLD);
    END IF;
    IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - 'actor_id') = (to_jsonb(OLD) - 'actor_id')
            AND NEW.actor_id IS NULL THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit records are append-only (%)', TG_OP;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audit_logentry_append_only ON auditlog_logentry;
CREATE TRIGGER audit_logentry_append_only BEFORE UPDATE OR DELETE ON auditlog_logentry
    FOR EACH ROW EXECUTE FUNCTION audit_logentry_append_only();
"""
UNGUARD = """
DROP TRIGGER IF EXISTS audit_logentry_append_only ON auditlog_logentry;
DROP FUNCTION IF EXISTS audit_logentry_append_only();
"""


def guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(GUARD, params=None)


def unguard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNGUARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("auditlog", "0017_add_actor_email")]

    operations = [migrations.RunPython(guard, unguard)]
