"""Contact syncs through outages and failures: every contact synced once, permanent refusals
stop, hangs are cut, lost enqueues and dead workers are swept up."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import OrmQ

from accounts.models import Business
from common import outbox
from integrations import contacts
from integrations.kinds import CONTACT_SYNC
from integrations.models import CircuitBreaker, WixContactSync
from integrations.wix import breaker
from tests.accounts.factories import BusinessFactory
from tests.integrations.conftest import queued_drains
from tests.integrations.contact_syncs import KIND, drain
from tests.integrations.standin_counts import CREATE, QUERY
from tests.proposals.factories import ClientFactory


def swept() -> dict:
    """The outbox sweeper's report for contact syncs: {"recovered": n, "drain": bool}."""
    return outbox.sweep()[KIND]


def sync_until_settled(rounds: int = 40) -> None:
    """Run queued drains; make retries due at once (instead of waiting) and sweep, until done."""
    for _ in range(rounds):
        drain()
        open_rows = WixContactSync.objects.exclude(
            status__in=[WixContactSync.Status.SYNCED, WixContactSync.Status.FAILED]
        )
        if not open_rows.exists():
            return
        open_rows.update(next_attempt_at=timezone.now())
        swept()
        time.sleep(0.02)
    raise AssertionError("contact syncs did not settle")


@pytest.mark.django_db
def test_with_60_percent_503_every_contact_is_synced_exactly_once(wix, send, settings):
    settings.WIX_BREAKER_THRESHOLD = 1000  # this test is about retries, not the breaker
    business = BusinessFactory(plan=Business.Plan.PAID)  # more sends than the free plan allows
    clients = [ClientFactory(business=business) for _ in range(8)]
    wix.faults(error_rate=0.6, error_status=503, error_after_processing=True, paths=["/contacts"])
    for client in clients:
        send(client)
    sync_until_settled()
    held = wix.contacts(business.instance_id)
    assert sorted(c["primaryInfo"]["email"] for c in held) == sorted(c.email for c in clients)
    by_id = {c["id"] for c in held}
    assert set(WixContactSync.objects.values_list("wix_contact_id", flat=True)) == by_id
    assert set(WixContactSync.objects.values_list("status", flat=True)) == {"synced"}


@pytest.mark.django_db
def test_a_full_outage_opens_the_breaker_and_everything_syncs_after_recovery(wix, send, settings):
    settings.WIX_BREAKER_THRESHOLD = 3
    settings.WIX_BREAKER_COOLDOWN = 60
    settings.WIX_MAX_ATTEMPTS = 3
    business = BusinessFactory(plan=Business.Plan.PAID)  # more sends than the free plan allows
    clients = [ClientFactory(business=business) for _ in range(10)]
    wix.faults(outage=True, paths=["/contacts"])
    started = time.monotonic()
    for client in clients:
        send(client)  # sending keeps working: the sync is deferred
    assert time.monotonic() - started < 5
    for _ in range(3):  # workers keep trying while Wix is down
        drain()
        WixContactSync.objects.update(next_attempt_at=timezone.now())
        swept()
    drain()
    assert breaker.state_of("contacts") == CircuitBreaker.State.OPEN
    # 30+ sync attempts, yet Wix saw only what opened the breaker.
    assert wix.count(QUERY) + wix.count(CREATE) <= settings.WIX_BREAKER_THRESHOLD
    pending = WixContactSync.objects.filter(status=WixContactSync.Status.PENDING)
    assert pending.count() == 10
    assert all("circuit open" in row.last_error for row in pending if row.attempt_count > 1)

    wix.faults()
    settings.WIX_BREAKER_COOLDOWN = 0.01
    CircuitBreaker.objects.update(retry_at=timezone.now())
    sync_until_settled()
    assert len(wix.contacts(business.instance_id)) == 10
    assert breaker.state_of("contacts") == CircuitBreaker.State.CLOSED


@pytest.mark.django_db
def test_a_hanging_wix_never_delays_the_send(wix, send, settings):
    wix.faults(hang=True, paths=["/contacts"])
    started = time.monotonic()
    send(ClientFactory())
    elapsed = time.monotonic() - started
    wix.faults()
    assert elapsed < 1


@pytest.mark.django_db
def test_a_permanent_refusal_stops_retrying_and_says_why(wix, send):
    wix.faults(error_rate=1.0, error_status=400, paths=["/contacts"])
    send(ClientFactory())
    assert drain() == {"failed": 1}
    sync = WixContactSync.objects.get()
    assert sync.status == WixContactSync.Status.FAILED
    assert sync.last_error
    assert (sync.attempt_count, sync.next_attempt_at, sync.claimed_until) == (1, None, None)
    assert swept() == {"recovered": 0, "drain": False}


@pytest.mark.django_db
def test_the_sweeper_picks_up_a_sync_whose_enqueue_was_lost(wix, send):
    send(ClientFactory())
    OrmQ.objects.all().delete()  # the drain never got on the queue (crash after commit)
    assert swept() == {"recovered": 0, "drain": True}
    assert queued_drains().count(KIND) == 1
    assert drain() == {"synced": 1}
    assert swept() == {"recovered": 0, "drain": False}


@pytest.mark.django_db
def test_two_workers_racing_sync_once(wix, send):
    send(ClientFactory())
    sync = WixContactSync.objects.get()
    assert contacts.contact_sync_run(sync_id=sync.pk) == "synced"
    assert contacts.contact_sync_run(sync_id=sync.pk) == "not claimed"
    assert wix.count(CREATE) == 1


@pytest.mark.django_db
def test_a_hanging_wix_is_cut_at_the_deadline_and_the_worker_moves_on(
    wix, send, settings, longest_backoff
):
    settings.WIX_CALL_DEADLINE = 0.8
    send(ClientFactory())
    send(ClientFactory())
    wix.faults(hang=True, paths=["/contacts"])
    started = time.monotonic()
    outcomes = drain()  # one drain, one batch: both rows
    elapsed = time.monotonic() - started
    wix.faults()
    assert outcomes == {"retry": 2}
    assert elapsed < 2 * 0.8 + 0.5
    assert set(WixContactSync.objects.values_list("status", flat=True)) == {"pending"}


def _broker_down(*args, **kwargs):
    raise ConnectionError("broker unreachable")


@pytest.mark.django_db
def test_a_failed_enqueue_after_commit_never_fails_the_send(wix, send, monkeypatch, log_events):
    monkeypatch.setattr("django_q.tasks.async_task", _broker_down)
    send(ClientFactory())  # the commit callbacks run, and nothing escapes them
    sync = WixContactSync.objects.get()
    assert sync.status == WixContactSync.Status.PENDING
    assert sync.attempt_count == 0
    failed = [
        e for e in log_events if e["event"] == "outbox_enqueue_failed" and e.get("kind") == KIND
    ]
    assert failed and failed[0] == {
        "event": "outbox_enqueue_failed",
        "log_level": "warning",
        "kind": KIND,
        "error": "ConnectionError",
    }
    # While the broker is down the sweeper enqueues nothing (and says so) …
    assert swept() == {"recovered": 0, "drain": False}
    # … and once it is back, the row is picked up.
    monkeypatch.undo()
    assert swept() == {"recovered": 0, "drain": True}
    assert drain() == {"synced": 1}


@pytest.mark.django_db
def test_an_unexpected_error_is_recorded_and_retried_then_given_up(
    wix, send, monkeypatch, longest_backoff
):
    from integrations.wix.client import WixClient

    # Wix answers 200 with a contact that has no id: a KeyError deep in the upsert.
    monkeypatch.setattr(WixClient, "query_contacts_by_email", lambda self, email: [{}])
    send(ClientFactory())
    assert drain() == {"retry": 1}
    sync = WixContactSync.objects.get()
    assert sync.status == WixContactSync.Status.PENDING
    assert sync.claimed_until is None
    assert sync.last_error.startswith("KeyError")
    assert sync.next_attempt_at > timezone.now()

    WixContactSync.objects.update(
        attempt_count=CONTACT_SYNC.setting("MAX_ATTEMPTS") - 1, next_attempt_at=timezone.now()
    )
    assert contacts.contact_sync_run(sync_id=sync.pk) == "failed"
    sync.refresh_from_db()
    assert sync.status == WixContactSync.Status.FAILED
    assert sync.last_error.startswith("KeyError")
    assert swept() == {"recovered": 0, "drain": False}


@pytest.mark.django_db
def test_a_row_whose_last_attempt_never_finished_is_given_up_not_rerun(wix, send):
    send(ClientFactory())
    OrmQ.objects.all().delete()
    max_attempts = CONTACT_SYNC.setting("MAX_ATTEMPTS")
    # The worker running the last allowed attempt was killed: the lease ran out.
    WixContactSync.objects.update(
        status=WixContactSync.Status.RUNNING,
        attempt_count=max_attempts - 1,
        claimed_until=timezone.now() - timedelta(seconds=1),
    )
    assert swept() == {"recovered": 1, "drain": True}
    assert WixContactSync.objects.get().attempt_count == max_attempts  # the lost one counts
    assert drain() == {"failed": 1}
    sync = WixContactSync.objects.get()
    assert sync.status == WixContactSync.Status.FAILED
    assert sync.attempt_count == max_attempts
    assert "did not finish" in sync.last_error
    assert swept() == {"recovered": 0, "drain": False}
    assert wix.count(CREATE) == 0


@pytest.mark.django_db
def test_a_huge_retry_after_is_capped_and_never_overflows(wix, send):
    wix.faults(storm_429=10, retry_after=10**12, paths=["/contacts"])
    send(ClientFactory())
    assert drain() == {"retry": 1}
    sync = WixContactSync.objects.get()
    assert sync.status == WixContactSync.Status.PENDING
    assert sync.next_attempt_at <= timezone.now() + timedelta(hours=1, seconds=5)


def _lost_syncs(count: int) -> None:
    """Rows whose worker died: running, their lease over."""
    business = BusinessFactory.create()
    WixContactSync.objects.bulk_create(
        WixContactSync(
            business=business,
            client=ClientFactory.create(business=business),
            status=WixContactSync.Status.RUNNING,
            attempt_count=1,
            claimed_until=timezone.now() - timedelta(seconds=1),
        )
        for _ in range(count)
    )


@pytest.mark.django_db
def test_the_sweep_issues_the_same_queries_for_5_and_50_lost_syncs(django_assert_num_queries):
    _lost_syncs(5)
    with CaptureQueriesContext(connection) as five:
        assert swept() == {"recovered": 5, "drain": True}
    assert set(WixContactSync.objects.values_list("last_error", flat=True)) == {
        "worker lost while syncing"
    }
    WixContactSync.objects.update(status=WixContactSync.Status.FAILED, next_attempt_at=None)
    OrmQ.objects.all().delete()
    _lost_syncs(50)
    with django_assert_num_queries(len(five.captured_queries)):
        assert swept() == {"recovered": 50, "drain": True}
    assert queued_drains().count(KIND) == 1
