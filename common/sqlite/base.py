"""SQLite (``make run``'s zero-setup database) without the PostgreSQL-only indexes.

The models declare GIN trigram indexes that only PostgreSQL has; the migrations that add them
skip them elsewhere (``common.migration_ops``). But SQLite cannot alter most columns in place:
Django rebuilds the whole table and creates again every index the model declares — these too,
which SQLite refuses (``near "gin_trgm_ops": syntax error``). This backend is Django's SQLite
with those indexes left out of every rebuild, CREATE INDEX and DROP INDEX.

And with SQLite's own limit on query parameters: Django 5.2 assumes that a statement takes at
most 999 (SQLite before 3.32), so a bulk insert of 50 deliveries became two statements where
PostgreSQL has one. This SQLite's limit is read instead (as Django 6.0 does), capped at 32,766
(its default since 3.32) to keep a statement's text short.
"""

import sqlite3

from django.contrib.postgres.indexes import PostgresIndex
from django.db.backends.sqlite3 import base, features, schema
from django.utils.functional import cached_property

MAX_QUERY_PARAMS = 32766


class DatabaseFeatures(features.DatabaseFeatures):
    @cached_property
    def max_query_params(self) -> int:  # type: ignore[override]
        self.connection.ensure_connection()
        limit = self.connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        return min(limit, MAX_QUERY_PARAMS)


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
    features_class = DatabaseFeatures
