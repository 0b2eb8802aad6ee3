"""Migration operations the portal's apps share.

``make run`` migrates SQLite, CI and production PostgreSQL: an operation that only PostgreSQL can
run (a GIN trigram index) must be a no-op elsewhere and still leave both schemas consistent.
"""

from django.db import NotSupportedError
from django.db.migrations.operations.base import Operation


class AddIndexOnPostgreSQL(Operation):
    """``CREATE INDEX CONCURRENTLY`` of ``index`` on PostgreSQL; nothing on other databases.

    The index stays out of the model state (and so out of ``Meta.indexes``): SQLite rebuilds a
    table from its state's indexes whenever a field changes, and a GIN index in it would break
    that. ``CONCURRENTLY`` keeps the table writable while a large table is indexed; the
    migration must be ``atomic = False`` (``NotSupportedError`` otherwise). Reversed by
    ``DROP INDEX CONCURRENTLY``.
    """

    reversible = True

    def __init__(self, model_name: str, index):
        self.model_name = model_name
        self.index = index

    def state_forwards(self, app_label, state):
        pass  # not in the model state (see the class)

    def _run(self, schema_editor, model, method):
        connection = schema_editor.connection
        if connection.vendor != "postgresql" or not self.allow_migrate_model(connection.alias, model):
            return
        if connection.in_atomic_block:
            raise NotSupportedError(f"{self.describe()}: CONCURRENTLY needs a migration with atomic = False.")
        getattr(schema_editor, method)(model, self.index, concurrently=True)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        self._run(schema_editor, to_state.apps.get_model(app_label, self.model_name), "add_index")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        self._run(schema_editor, from_state.apps.get_model(app_label, self.model_name), "remove_index")

    def describe(self):
        return f"Create index {self.index.name} on {self.model_name} (PostgreSQL only, concurrently)"

    @property
    def migration_name_fragment(self):
        return f"{self.model_name.lower()}_{self.index.name.lower()}"

    def deconstruct(self):
        return self.__class__.__qualname__, [], {"model_name": self.model_name, "index": self.index}
