"""SQLite (``make run``'s zero-setup database) without the PostgreSQL-only indexes.

The models declare GIN trigram indexes that only PostgreSQL has; the migrations that add them
skip them elsewhere (``common.migration_ops``). But SQLite cannot alter most columns in place:
Django rebuilds the whole table and creates again every index the model declares — these too,
which SQLite refuses (``near "gin_trgm_ops": syntax error``). This backend is Django's SQLite
with those indexes left out of every rebuild, CREATE INDEX and DROP INDEX.
"""

from django.contrib.postgres.indexes import PostgresIndex
from django.db.backends.sqlite3 import base, schema


class DatabaseSchemaEditor(schema.DatabaseSchemaEditor):
    def _model_indexes_sql(self, model):
        postgres_only = [i for i in model._meta.indexes if isinstance(i, PostgresIndex)]
        statements = super()._model_indexes_sql(model)
        if not postgres_only:
            return statements
        skipped = {str(index.create_sql(model, self)) for index in postgres_only}
        return [sql for sql in statements if str(sql) not in skipped]

    def add_index(self, model, index):
        if not isinstance(index, PostgresIndex):
            super().add_index(model, index)

    def remove_index(self, model, index):
        if not isinstance(index, PostgresIndex):
            super().remove_index(model, index)


class DatabaseWrapper(base.DatabaseWrapper):
    SchemaEditorClass = DatabaseSchemaEditor
