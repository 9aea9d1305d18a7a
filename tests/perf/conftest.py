"""The query-plan tests' dataset (tests/perf/world.py) as a fixture: built once per module, in
one transaction that is rolled back after the module."""

import pytest
from django.db import transaction

from tests.perf.world import build_world


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The dataset, in a transaction every test nests into and that is rolled back at the end."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield build_world()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
