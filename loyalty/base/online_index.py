"""A migration operation that adds an index without stopping writes where the database can.

Django's AddIndex takes a lock that blocks writes for as long as PostgreSQL builds the index:
on the outbox tables of a busy program (a delivery a purchase) that is every purchase waiting.
AddIndexOnline builds it CONCURRENTLY on PostgreSQL (writes go on; the migration must say
`atomic = False`) and plainly elsewhere (SQLite, the demo). django.contrib.postgres's
AddIndexConcurrently is the same on PostgreSQL but fails on SQLite.

A concurrent build that fails (the migration stopped, a deadlock, a lack of disk) leaves its
index behind, INVALID: never used, but in the way of the name. Running the migration again
drops such a leftover first (only an invalid one: an index of that name that works is an error,
as for AddIndex).
"""

from django.db.migrations.operations import AddIndex


class AddIndexOnline(AddIndex):
    def _concurrently(self, schema_editor) -> dict:
        if schema_editor.connection.vendor != "postgresql":
            return {}
        if schema_editor.connection.in_atomic_block:
            raise RuntimeError("AddIndexOnline needs a migration with atomic = False.")
        return {"concurrently": True}

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            concurrently = self._concurrently(schema_editor)
            if concurrently:
                self._drop_invalid_leftover(schema_editor)
            schema_editor.add_index(model, self.index, **concurrently)

    def _drop_invalid_leftover(self, schema_editor) -> None:
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname = %s AND pg_table_is_visible(c.oid) AND NOT i.indisvalid",
                [self.index.name],
            )
            invalid = cursor.fetchone() is not None
        if invalid:
            name = schema_editor.quote_name(self.index.name)
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, **self._concurrently(schema_editor))
