# Issue 10 (API search at production size): one trigram index over a business's clients.
#
# The search first finds the business's clients whose name, email or company contains the
# term. With one trigram index per column across all businesses, a common surname ("Dubois":
# 75,000 clients in all) made PostgreSQL walk the business's 12,500 clients instead, and a term
# that matched nothing walked them too. btree_gin lets the business id sit in the same GIN
# index as the three trigram columns: the business and the term are intersected inside the
# index, so a term that matches no client of the business reads no client row. A multicolumn
# GIN index serves any subset of its columns, so the three single-column indexes of 0005
# (which only this search used) are dropped.
#
# PostgreSQL only: btree_gin and pg_trgm are PostgreSQL extensions (trusted since 13, so the
# database owner may create them); on SQLite these operations do nothing.
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.operations import BtreeGinExtension
from django.db import migrations
from django.db.models.functions import Upper

import common.migration_ops as ops

SEARCH_INDEX = "client_business_search_trgm"
# IF NOT EXISTS: the seeded benchmark database may already have it, built by hand under this
# name to measure the search before this migration ran there.
SEARCH_INDEX_SQL = (
    f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{SEARCH_INDEX}" ON "proposals_client" USING gin '
    '("business_id", (UPPER("name")) gin_trgm_ops, (UPPER("email")) gin_trgm_ops, '
    '(UPPER("company")) gin_trgm_ops)'
)


def _create_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SEARCH_INDEX_SQL)


def _drop_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{SEARCH_INDEX}"')


def _trigram(field: str) -> OpClass:
    return OpClass(Upper(field), name="gin_trgm_ops")


class Migration(migrations.Migration):
    atomic = False  # indexes are built CONCURRENTLY on PostgreSQL (common.migration_ops)

    dependencies = [("proposals", "0007_delivery_business_recent")]

    operations = [
        BtreeGinExtension(),  # CREATE EXTENSION IF NOT EXISTS btree_gin; nothing on SQLite
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="client",
                    index=GinIndex(
                        "business",
                        _trigram("name"),
                        _trigram("email"),
                        _trigram("company"),
                        name=SEARCH_INDEX,
                    ),
                )
            ],
            database_operations=[
                migrations.RunPython(_create_search_index, _drop_search_index, elidable=False)
            ],
        ),
        ops.RemovePostgresIndexConcurrently(model_name="client", name="client_name_trgm"),
        ops.RemovePostgresIndexConcurrently(model_name="client", name="client_email_trgm"),
        ops.RemovePostgresIndexConcurrently(model_name="client", name="client_company_trgm"),
    ]
