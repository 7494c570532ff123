"""`loyalty_prepare_all(names, bodies)`: PREPAREs each of the named statements this server
connection lacks (PostgreSQL). Behind a pooler in transaction mode a transaction keeps one server
connection from its first statement to its end, so the first hot statement of a transaction
makes sure of all of them in one call (loyalty.base.prepared), and the others run as plain
EXECUTEs: one look at pg_prepared_statements a transaction instead of one a statement. A body
that cannot be prepared (a bug, or a table changed by hand) is skipped, so the others still run;
its own EXECUTE then fails its transaction, and the next one prepares it alone, which raises why.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION loyalty_prepare_all(names text[], bodies text[]) RETURNS void AS $$
DECLARE
    present text[];
BEGIN
    SELECT array_agg(name) INTO present FROM pg_prepared_statements WHERE name = ANY(names);
    IF cardinality(present) = cardinality(names) THEN
        RETURN;
    END IF;
    FOR i IN 1 .. cardinality(names) LOOP
        IF present IS NULL OR NOT names[i] = ANY(present) THEN
            BEGIN
                EXECUTE 'PREPARE ' || quote_ident(names[i]) || ' ' || bodies[i];
            EXCEPTION WHEN OTHERS THEN
                NULL;
            END;
        END IF;
    END LOOP;
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS loyalty_prepare_all(text[], text[])")


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0021_member_on_lot_movements")]

    operations = [migrations.RunPython(forwards, backwards)]
