# Issue 10 (API lists and search): trigram indexes so that a proposal search that matches few
# or no rows reads through indexes instead of every proposal of the business (50,000 for the
# biggest). ``icontains`` is ``UPPER(col) LIKE UPPER('%term%')`` on PostgreSQL, hence the
# indexed expressions. PostgreSQL only: pg_trgm is a PostgreSQL extension (trusted since 13, so
# the database owner may create it); on SQLite (development) these operations do nothing and
# the search is the same query without the indexes.
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations
from django.db.models.functions import Upper

import common.migration_ops as ops


def _trigram(field: str, name: str) -> GinIndex:
    return GinIndex(OpClass(Upper(field), name="gin_trgm_ops"), name=name)


class Migration(migrations.Migration):
    atomic = False  # indexes are built CONCURRENTLY on PostgreSQL (common.migration_ops)

    dependencies = [("proposals", "0004_scale_dashboard")]

    operations = [
        TrigramExtension(),  # CREATE EXTENSION IF NOT EXISTS pg_trgm; nothing on SQLite
        ops.AddPostgresIndexConcurrently(
            model_name="proposal", index=_trigram("title", "proposal_title_trgm")
        ),
        ops.AddPostgresIndexConcurrently(
            model_name="client", index=_trigram("name", "client_name_trgm")
        ),
        ops.AddPostgresIndexConcurrently(
            model_name="client", index=_trigram("email", "client_email_trgm")
        ),
        ops.AddPostgresIndexConcurrently(
            model_name="client", index=_trigram("company", "client_company_trgm")
        ),
    ]
