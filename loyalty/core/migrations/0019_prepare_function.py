"""`loyalty_prepare(name, body)`: PREPAREs `name` unless this server connection has it already
(PostgreSQL). Behind a pooler in transaction mode a prepared statement goes in one query with a
call of it (loyalty.base.prepared): a function's plan is kept by the server connection, where a
DO block would be compiled on every call (bench/RESULTS.md). SQLite has no prepared statements.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION loyalty_prepare(statement_name text, body text) RETURNS void AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_prepared_statements WHERE name = statement_name) THEN
        EXECUTE 'PREPARE ' || quote_ident(statement_name) || ' ' || body;
    END IF;
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS loyalty_prepare(text, text)")


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0018_pending_points")]

    operations = [migrations.RunPython(forwards, backwards)]
