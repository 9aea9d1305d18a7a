"""The outbox engine (common/outbox): batch claims, release, leases, coalesced drains, policy.

Driven through the deliveries kind (the engine has no model of its own).
"""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from common import outbox
from common.outbox.claim import claim_fallback, previous_state
from common.outbox.drain import DRAIN_TASK
from proposals.models import Delivery
from tests.accounts.factories import BusinessFactory
from tests.fallback_costs import CLAIM_PER_ROW

KIND = "delivery"


def due_rows(count: int, *, state=Delivery.State.PENDING, ago=timedelta(minutes=1)) -> list:
    business = BusinessFactory.create()
    at = timezone.now() - ago
    return Delivery.objects.bulk_create(
        Delivery(
            business=business,
            kind=Delivery.Kind.OWNER_VIEWED,
            recipient="owner@example.com",
            idempotency_key=f"outbox:{business.pk}:{n}",
            state=state,
            next_attempt_at=at + timedelta(microseconds=n),
        )
        for n in range(count)
    )


def queued_drains() -> list:
    return [
        SignedPackage.loads(row.payload)["args"]
        for row in OrmQ.objects.order_by("pk")
        if SignedPackage.loads(row.payload)["func"] == DRAIN_TASK
    ]


@pytest.fixture(autouse=True)
def _fresh_flags():
    from django.core.cache import cache

    cache.delete(f"outbox:drain-queued:{KIND}")
    yield
    cache.delete(f"outbox:drain-queued:{KIND}")


@pytest.mark.django_db
def test_a_claim_takes_due_rows_in_due_order_with_a_lease_in_two_queries():
    rows = due_rows(5)
    later = Delivery.objects.filter(pk=rows[4].pk)
    later.update(next_attempt_at=timezone.now() + timedelta(hours=1))  # not due yet
    Delivery.objects.filter(pk=rows[3].pk).update(state=Delivery.State.FAILED_RETRYING)
    now = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        claimed = outbox.claim(KIND, limit=10, now=now)
    assert len(queries.captured_queries) == 2 + CLAIM_PER_ROW * len(claimed)
    assert [row.pk for row in claimed] == [row.pk for row in rows[:4]]
    assert [previous_state(row) for row in claimed] == ["pending"] * 3 + ["failed_retrying"]
    for row in Delivery.objects.filter(pk__in=[r.pk for r in claimed]):
        assert row.state == Delivery.State.SENDING
        assert row.claimed_until > now + timedelta(seconds=60)
    # Claimed rows are no longer due: a second claim gets only what was left.
    assert outbox.claim(KIND, limit=10, now=now) == []


@pytest.mark.django_db
def test_a_claim_stops_at_its_limit_and_can_target_ids():
    rows = due_rows(6)
    assert len(outbox.claim(KIND, limit=4)) == 4
    [only] = outbox.claim(KIND, limit=4, ids=[rows[5].pk])
    assert only.pk == rows[5].pk
    assert [r.pk for r in outbox.claim(KIND, limit=4)] == [rows[4].pk]


@pytest.mark.django_db(transaction=True)
def test_two_drains_claiming_at_once_never_take_the_same_row() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; the fallback has its own test")
    due_rows(200)
    barrier = threading.Barrier(4)
    taken: list[list[int]] = []
    lock = threading.Lock()

    def drain_like():
        try:
            barrier.wait(timeout=10)
            mine = []
            while rows := outbox.claim(KIND, limit=7):
                mine += [row.pk for row in rows]
            with lock:
                taken.append(mine)
        finally:
            connection.close()

    threads = [threading.Thread(target=drain_like) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    everything = [pk for mine in taken for pk in mine]
    assert len(taken) == 4
    assert len(everything) == len(set(everything)) == 200
    assert not Delivery.objects.exclude(state=Delivery.State.SENDING).exists()


@pytest.mark.django_db
def test_the_fallback_claim_lets_only_one_caller_win_a_row():
    rows = due_rows(3)
    now = timezone.now()
    first = claim_fallback(KIND, limit=2, now=now)
    assert first == {rows[0].pk: "pending", rows[1].pk: "pending"}
    # A second worker read the same candidates before the first one's UPDATE: it wins none.
    Delivery.objects.filter(pk=rows[2].pk).update(state=Delivery.State.SENDING)
    assert claim_fallback(KIND, limit=3, now=now) == {}
    assert Delivery.objects.filter(state=Delivery.State.SENDING).count() == 3


@pytest.mark.django_db
def test_the_fallback_claim_skips_a_row_changed_after_it_was_read(monkeypatch):
    rows = due_rows(2)
    real_update = Delivery.objects.none().__class__.update
    raced = []

    def racing_update(queryset, **kwargs):
        if not raced:  # another worker claims the first row between the read and the UPDATE
            raced.append(True)
            real_update(Delivery.objects.filter(pk=rows[0].pk), state=Delivery.State.SENDING)
        return real_update(queryset, **kwargs)

    monkeypatch.setattr(Delivery.objects.none().__class__, "update", racing_update)
    assert claim_fallback(KIND, limit=2, now=timezone.now()) == {rows[1].pk: "pending"}


@pytest.mark.django_db
def test_release_gives_rows_back_in_their_state_at_their_time_in_one_query():
    due_rows(1, state=Delivery.State.FAILED_RETRYING)
    due_rows(2)
    claimed = outbox.claim(KIND, limit=10)
    later = timezone.now() + timedelta(minutes=5)
    times = {row.pk: later + timedelta(seconds=i) for i, row in enumerate(claimed)}
    with CaptureQueriesContext(connection) as queries:
        assert outbox.release(KIND, claimed, at=times) == 3
    assert len(queries.captured_queries) == 1
    for row in claimed:
        fresh = Delivery.objects.get(pk=row.pk)
        assert fresh.state == previous_state(row)
        assert fresh.next_attempt_at == times[row.pk]
        assert fresh.claimed_until is None and fresh.attempt_count == 0


@pytest.mark.django_db
def test_expired_leases_come_back_due_and_the_kind_hook_runs():
    rows = due_rows(3)
    outbox.claim(KIND, limit=3)
    Delivery.objects.filter(pk=rows[0].pk).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )
    assert outbox.expire_leases(KIND) == [rows[0].pk]
    lost = Delivery.objects.get(pk=rows[0].pk)
    assert lost.state == Delivery.State.FAILED_RETRYING
    assert lost.last_error == "worker lost while sending" and lost.claimed_until is None
    assert outbox.expire_leases(KIND) == []
    assert Delivery.objects.filter(state=Delivery.State.SENDING).count() == 2


@pytest.mark.django_db
def test_many_drain_requests_in_one_burst_queue_one_drain():
    assert [outbox.request_drain(KIND) for _ in range(20)] == [True] + [False] * 19
    assert queued_drains() == [(KIND,)]
    # A drain clears the flag as it starts: a row committed after that asks again.
    assert outbox.drain(KIND)["claimed"] == 0
    assert outbox.request_drain(KIND) is True
    assert queued_drains() == [(KIND,), (KIND,)]


@pytest.mark.django_db
def test_a_broker_failure_clears_the_flag_so_the_next_request_tries_again(monkeypatch):
    import django_q.tasks

    def broken(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(django_q.tasks, "async_task", broken)
    assert outbox.request_drain(KIND) is False
    monkeypatch.undo()
    assert outbox.request_drain(KIND) is True


@pytest.mark.django_db
def test_the_sweeper_drains_due_rows_whose_drain_was_never_queued():
    due_rows(3)
    assert queued_drains() == []
    report = outbox.sweep()
    assert report[KIND] == {"recovered": 0, "drain": True}
    assert queued_drains() == [(KIND,)]
    Delivery.objects.update(next_attempt_at=timezone.now() + timedelta(hours=1))
    OrmQ.objects.all().delete()
    assert outbox.sweep()[KIND] == {"recovered": 0, "drain": False}
    assert queued_drains() == []


def test_retry_at_is_full_jitter_under_the_cap_with_retry_after_as_a_floor(settings):
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 10.0
    settings.DELIVERY_BACKOFF_CAP_SECONDS = 100.0
    settings.DELIVERY_MAX_ATTEMPTS = 50
    settings.DELIVERY_MAX_AGE_SECONDS = 86400
    now = timezone.now()
    for attempts, ceiling in [(1, 10), (2, 20), (3, 40), (5, 100), (40, 100)]:
        waits = [
            (outbox.retry_at(KIND, attempts=attempts, since=now, now=now) - now).total_seconds()
            for _ in range(300)
        ]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling * 0.7 and min(waits) < ceiling * 0.3
    floor = outbox.retry_at(KIND, attempts=1, since=now, now=now, retry_after=500)
    assert floor - now >= timedelta(seconds=500)


def test_retry_at_gives_up_after_the_attempts_or_the_age(settings):
    settings.DELIVERY_MAX_ATTEMPTS = 3
    settings.DELIVERY_MAX_AGE_SECONDS = 600
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 1.0
    settings.DELIVERY_BACKOFF_CAP_SECONDS = 1.0
    now = timezone.now()
    assert outbox.retry_at(KIND, attempts=2, since=now, now=now) is not None
    assert outbox.retry_at(KIND, attempts=3, since=now, now=now) is None
    old = now - timedelta(seconds=600)
    assert outbox.retry_at(KIND, attempts=1, since=old, now=now) is None
    # A Retry-After that lands past the maximum age gives up too.
    assert outbox.retry_at(KIND, attempts=1, since=now, now=now, retry_after=601) is None


def test_a_kind_reads_its_own_setting_then_the_outbox_default(settings):
    kind = outbox.get_kind(KIND)
    settings.DELIVERY_BATCH_SIZE = 7
    assert kind.setting("BATCH_SIZE") == 7
    del settings.DELIVERY_BATCH_SIZE
    settings.OUTBOX_DEFAULTS = {**settings.OUTBOX_DEFAULTS, "BATCH_SIZE": 9}
    assert kind.setting("BATCH_SIZE") == 9
    with pytest.raises(ValueError):
        outbox.register(
            outbox.Kind(name=KIND, model="x.Y", work="x", due_states=("a",), working_state="b")
        )
    with pytest.raises(LookupError):
        outbox.get_kind("nothing-of-the-kind")


@pytest.mark.django_db
def test_with_a_synchronous_queue_a_drain_does_not_start_drains_inside_itself(
    monkeypatch, settings
):
    from django_q.conf import Conf

    settings.DELIVERY_BATCH_SIZE = 2
    settings.DELIVERY_RATE_LIMIT = 0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    monkeypatch.setattr(Conf, "SYNC", True)
    due_rows(5)
    result = outbox.drain(KIND)
    assert result["claimed"] == 5 and result["batches"] == 3
    assert queued_drains() == []
