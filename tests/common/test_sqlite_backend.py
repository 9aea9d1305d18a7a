import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Business
from proposals.models import Proposal
from tests.accounts.factories import BusinessFactory

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "sqlite", reason="common.sqlite (SQLite) is the subject"
    ),
    pytest.mark.django_db,
]


def test_a_sqlite_table_rebuild_recreates_every_index_but_the_postgresql_only_ones():
    # SQLite adds most columns by rebuilding the table, with the indexes of the model's state.
    editor = connection.schema_editor(collect_sql=True)  # not entered: it only writes SQL here
    statements = [str(s) for s in editor._model_indexes_sql(Proposal)]
    assert not [s for s in statements if "gin_trgm_ops" in s]
    assert any('"proposal_open_expiry_idx"' in s for s in statements)
    assert len(statements) == len(Proposal._meta.indexes) - 1 + sum(
        1 for f in Proposal._meta.local_fields if f.db_index
    )


def test_a_bulk_insert_past_999_parameters_is_one_statement_as_on_postgresql():
    fields = len(Business._meta.concrete_fields)
    rows = [BusinessFactory.build() for _ in range(1000 // fields + 1)]
    with CaptureQueriesContext(connection) as queries:
        Business.objects.bulk_create(rows)
    assert [q["sql"][:6] for q in queries.captured_queries] == ["INSERT"]
