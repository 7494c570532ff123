"""A migration operation that adds an index without stopping writes where the database can.

Django's AddIndex takes a lock that blocks writes for as long as PostgreSQL builds the index:
on the outbox tables of a busy program (a delivery a purchase) that is every purchase waiting.
AddIndexOnline builds it CONCURRENTLY on PostgreSQL (writes go on; the migration must say
`atomic = False`) and plainly elsewhere (SQLite, the demo). django.contrib.postgres's
AddIndexConcurrently is the same on PostgreSQL but fails on SQLite.
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
            schema_editor.add_index(model, self.index, **self._concurrently(schema_editor))

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, **self._concurrently(schema_editor))
