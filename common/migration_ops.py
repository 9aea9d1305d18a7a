"""Migration operations that keep production tables writable while they change.

Indexes on the big tables (millions of proposals, tens of millions of activity rows) are built
``CONCURRENTLY`` on PostgreSQL, so a deploy never holds a write lock for the minutes an index
build takes. SQLite (development) has no such thing and gets a plain ``CREATE INDEX``.
A migration using these must set ``atomic = False``.
"""

from django.contrib.postgres import operations as postgres_operations
from django.db.migrations.operations import AddIndex, RemoveIndex, RunPython


class AddIndexConcurrently(postgres_operations.AddIndexConcurrently):
    """``CREATE INDEX CONCURRENTLY`` on PostgreSQL, a plain ``CREATE INDEX`` elsewhere."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)
        return super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)
        return super().database_backwards(app_label, schema_editor, from_state, to_state)


class RemoveIndexConcurrently(postgres_operations.RemoveIndexConcurrently):
    """``DROP INDEX CONCURRENTLY`` on PostgreSQL, a plain ``DROP INDEX`` elsewhere."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return RemoveIndex.database_forwards(
                self, app_label, schema_editor, from_state, to_state
            )
        return super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return RemoveIndex.database_backwards(
                self, app_label, schema_editor, from_state, to_state
            )
        return super().database_backwards(app_label, schema_editor, from_state, to_state)


class _PostgresOnly:
    """Runs the operation on PostgreSQL only (GIN, trigram operator classes); nothing elsewhere."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class AddPostgresIndexConcurrently(_PostgresOnly, AddIndexConcurrently):
    """A PostgreSQL-only index: built concurrently there, skipped elsewhere."""


class RemovePostgresIndexConcurrently(_PostgresOnly, RemoveIndexConcurrently):
    """A PostgreSQL-only index dropped concurrently; it never existed elsewhere."""


def add_raw_index(name: str, on: str) -> RunPython:
    """An index on a table whose model is not ours (a library's), as raw SQL.

    ``on`` is the ``table (columns)`` part of ``CREATE INDEX``. CONCURRENTLY on PostgreSQL; the
    migration must set ``atomic = False``. Reversible.
    """

    def concurrently(schema_editor) -> str:
        return "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""

    def create(apps, schema_editor):
        schema_editor.execute(
            f"CREATE INDEX {concurrently(schema_editor)}IF NOT EXISTS {name} ON {on}"
        )

    def drop(apps, schema_editor):
        schema_editor.execute(f"DROP INDEX {concurrently(schema_editor)}IF EXISTS {name}")

    return RunPython(create, drop, elidable=False)
