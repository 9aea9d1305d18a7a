"""A batch's outcomes survive the database restarting under it (the chaos run's duplicates).

The mail server accepted the emails; if writing "sent" then fails on a connection that broke,
the rows stay claimed, their lease runs out and the emails go out twice. The write is tried
again on a fresh connection (``common.outbox.writes.outcomes_written``). PostgreSQL only: the
connection is really cut, by ``pg_terminate_backend`` from a second connection.
"""

from datetime import timedelta

import pytest
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from psycopg import connect

from common import outbox
from common.outbox import writes
from proposals.delivery import outcomes
from proposals.models import Delivery, DeliveryAttempt
from tests.conftest import database_url_for_subprocess
from tests.proposals.test_delivery_batch import emails

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="cuts a PostgreSQL connection"
)


def cut_own_connection() -> None:
    """Terminate this process's database session from another one, as a restart does."""
    pid = connection.cursor().connection.info.backend_pid
    with connect(database_url_for_subprocess(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.mark.django_db(transaction=True)
def test_emails_the_server_accepted_are_recorded_sent_once_the_database_answers_again(
    smtp_server, settings, monkeypatch
):
    rows = emails(5)
    real = outcomes.update_rows
    cuts = []

    def update_rows_on_a_cut_connection(model, objs, fields, **kwargs):
        if model is Delivery and not cuts:
            cuts.append(len(objs))
            cut_own_connection()
        return real(model, objs, fields, **kwargs)

    monkeypatch.setattr(outcomes, "update_rows", update_rows_on_a_cut_connection)
    outbox.drain("delivery")

    assert cuts == [5]  # the first write really met a dead connection
    assert len(smtp_server.received) == 5
    delivered = Delivery.objects.filter(pk__in=[r.pk for r in rows])
    assert set(delivered.values_list("state", flat=True)) == {Delivery.State.SENT}
    assert set(delivered.values_list("claimed_until", flat=True)) == {None}
    attempts = DeliveryAttempt.objects.filter(delivery__in=rows)
    assert attempts.count() == 5
    assert set(attempts.values_list("outcome", flat=True)) == {DeliveryAttempt.Outcome.SENT}
    # Nothing left for the sweeper to take back and send again, even once every lease is out.
    later = timezone.now() + timedelta(days=1)
    assert outbox.expire_leases(outbox.get_kind("delivery"), now=later) == []


@pytest.mark.django_db(transaction=True)
def test_a_database_that_stays_down_fails_the_write_within_the_drain_budget(settings, monkeypatch):
    settings.OUTBOX_DEFAULTS = {**settings.OUTBOX_DEFAULTS, "DRAIN_SECONDS": 0.5}
    calls = []

    def down():
        calls.append(1)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(writes.time, "sleep", lambda seconds: None)
    clock = iter(range(0, 1000))
    monkeypatch.setattr(writes.time, "monotonic", lambda: next(clock) * 0.1)
    with pytest.raises(OperationalError):
        writes.outcomes_written(outbox.get_kind("delivery"), down)
    assert 2 <= len(calls) <= 6  # tried again, then gave up at the budget: the lease returns it


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_the_write_runs_once(monkeypatch):
    calls = []

    def down():
        calls.append(1)
        raise OperationalError("gone")

    with pytest.raises(OperationalError), transaction.atomic():
        writes.outcomes_written(outbox.get_kind("delivery"), down)
    assert calls == [1]
