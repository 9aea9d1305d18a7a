"""Contact syncs and webhook receipts on the outbox engine: concurrency, poison rows, limits."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from common import outbox
from integrations import contacts, webhooks
from integrations.kinds import CONTACT_SYNC, WEBHOOK_RECEIPT
from integrations.models import WebhookReceipt, WixContactSync
from tests.accounts.factories import BusinessFactory
from tests.fallback_costs import CLAIM_PER_ROW
from tests.integrations.conftest import queued_drains, run_drains
from tests.integrations.webhook_bodies import URL, signed
from tests.proposals.factories import ClientFactory

Receipt = WebhookReceipt.Status
Sync = WixContactSync.Status


def _receipts(count: int, event_type: str = "SomethingNew") -> list[WebhookReceipt]:
    """Verified receipts, due now, of an event nobody handles (processing needs no Wix)."""
    now = timezone.now()
    return WebhookReceipt.objects.bulk_create(
        WebhookReceipt(
            status=Receipt.PENDING,
            verified=True,
            event_type=event_type,
            received_at=now,
            next_attempt_at=now,
        )
        for _ in range(count)
    )


def _syncs(count: int) -> list[WixContactSync]:
    business = BusinessFactory.create()
    return WixContactSync.objects.bulk_create(
        WixContactSync(business=business, client=ClientFactory.create(business=business))
        for _ in range(count)
    )


def _statuses(model) -> dict:
    return dict(model.objects.values_list("pk", "status"))


# --- two drains at once ----------------------------------------------------------------------


def _race(kind: str, drains: int = 4) -> list[dict]:
    barrier = threading.Barrier(drains)
    results: list[dict] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            barrier.wait()
            results.append(outbox.drain(kind))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=one) for _ in range(drains)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SKIP LOCKED is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_four_drains_at_once_never_take_the_same_receipt(settings, monkeypatch) -> None:
    settings.OUTBOX_WEBHOOK_RECEIPT_BATCH_SIZE = 5
    _receipts(60)
    handled: list[int] = []
    real_handle = webhooks._handle

    def slow_handle(receipt):
        handled.append(receipt.pk)
        time.sleep(0.005)  # the drains overlap
        return real_handle(receipt)

    monkeypatch.setattr(webhooks, "_handle", slow_handle)

    results = _race("webhook_receipt")

    assert sorted(handled) == sorted(set(handled)) and len(handled) == 60
    assert sum(r["claimed"] for r in results) == 60
    assert sum(1 for r in results if r["claimed"]) > 1  # the drains really shared the work
    assert set(_statuses(WebhookReceipt).values()) == {Receipt.IGNORED}
    assert set(WebhookReceipt.objects.values_list("attempt_count", flat=True)) == {1}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SKIP LOCKED is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_four_drains_at_once_never_take_the_same_contact_sync(settings, monkeypatch) -> None:
    settings.OUTBOX_CONTACT_SYNC_BATCH_SIZE = 5
    _syncs(60)
    upserted: list[int] = []

    def upsert(wix, client):
        upserted.append(client.pk)
        time.sleep(0.005)
        return f"contact-{client.pk}"

    monkeypatch.setattr(contacts, "_upsert", upsert)

    results = _race("contact_sync")

    assert sorted(upserted) == sorted(set(upserted)) and len(upserted) == 60
    assert sum(r["synced"] for r in results) == 60
    assert sum(1 for r in results if r["claimed"]) > 1
    assert set(_statuses(WixContactSync).values()) == {Sync.SYNCED}


# --- poison rows -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_poison_receipt_is_given_up_after_its_attempts_and_never_blocks_its_batch(
    settings, monkeypatch, longest_backoff
):
    settings.OUTBOX_WEBHOOK_RECEIPT_MAX_ATTEMPTS = 3
    first, poison, *rest = _receipts(4)
    real_handle = webhooks._handle

    def handle(receipt):
        if receipt.pk == poison.pk:
            raise RuntimeError("this receipt breaks the handler")
        return real_handle(receipt)

    monkeypatch.setattr(webhooks, "_handle", handle)

    assert outbox.drain("webhook_receipt")["ignored"] == 3  # the rest of the batch went on
    outcomes = []
    for _ in range(5):
        WebhookReceipt.objects.filter(status=Receipt.PENDING).update(next_attempt_at=timezone.now())
        outcomes.append(
            {k: v for k, v in outbox.drain("webhook_receipt").items() if k in ("retry", "failed")}
        )

    assert outcomes[:2] == [{"retry": 1}, {"failed": 1}]
    poison.refresh_from_db()
    assert (poison.status, poison.attempt_count) == (Receipt.FAILED, 3)
    assert poison.last_error.startswith("RuntimeError")
    assert poison.next_attempt_at is None and poison.claimed_until is None
    assert {r.status for r in WebhookReceipt.objects.exclude(pk=poison.pk)} == {Receipt.IGNORED}


@pytest.mark.django_db
def test_a_poison_contact_sync_is_given_up_and_never_blocks_its_batch(
    settings, monkeypatch, longest_backoff
):
    settings.OUTBOX_CONTACT_SYNC_MAX_ATTEMPTS = 2
    poison, *rest = _syncs(3)

    def upsert(wix, client):
        if client.pk == poison.client_id:
            raise KeyError("id")
        return f"contact-{client.pk}"

    monkeypatch.setattr(contacts, "_upsert", upsert)

    first = outbox.drain("contact_sync")
    WixContactSync.objects.filter(status=Sync.PENDING).update(next_attempt_at=timezone.now())
    second = outbox.drain("contact_sync")

    assert (first.get("synced"), first.get("retry")) == (2, 1)
    assert second.get("failed") == 1
    poison.refresh_from_db()
    assert (poison.status, poison.attempt_count) == (Sync.FAILED, 2)
    assert {s.status for s in WixContactSync.objects.exclude(pk=poison.pk)} == {Sync.SYNCED}


# --- Retry-After, backoff, limits --------------------------------------------------------------


@pytest.mark.django_db
def test_a_wix_retry_after_is_honoured_for_a_webhook(
    client, wix, settings, django_capture_on_commit_callbacks
):
    wix.faults(storm_429=100, retry_after=120, paths=["/apps", "/site-properties"])
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(URL, data=signed(), content_type="text/plain").status_code == 200
    before = timezone.now()
    assert run_drains("webhook_receipt") == {"retry": 1}
    receipt = WebhookReceipt.objects.get()
    assert receipt.status == Receipt.PENDING
    assert receipt.next_attempt_at >= before + timedelta(seconds=120)
    assert receipt.next_attempt_at <= timezone.now() + timedelta(seconds=125)


@pytest.mark.django_db
def test_a_wix_retry_after_is_honoured_for_a_contact_sync(wix, settings):
    wix.faults(storm_429=100, retry_after=300, paths=["/contacts"])
    (sync,) = _syncs(1)
    before = timezone.now()
    assert contacts.contact_sync_run(sync_id=sync.pk) == "retry"
    sync.refresh_from_db()
    assert sync.status == Sync.PENDING and sync.attempt_count == 1
    assert sync.next_attempt_at >= before + timedelta(seconds=300)
    assert "rate limit" in sync.last_error.lower()


def test_the_webhook_backoff_is_full_jitter_from_its_settings(settings):
    settings.OUTBOX_WEBHOOK_RECEIPT_BACKOFF_BASE_SECONDS = 15.0
    now = timezone.now()
    delays = [
        (outbox.retry_at(WEBHOOK_RECEIPT, attempts=3, since=now, now=now) - now).total_seconds()
        for _ in range(300)
    ]
    # Uniform over [0, 15·2²], not the fixed 15·2³ of the old formula.
    assert all(0 <= d <= 60 for d in delays)
    assert min(delays) < 15 and max(delays) > 45
    settings.OUTBOX_WEBHOOK_RECEIPT_MAX_ATTEMPTS = 3
    assert outbox.retry_at(WEBHOOK_RECEIPT, attempts=3, since=now, now=now) is None
    settings.OUTBOX_CONTACT_SYNC_MAX_AGE_SECONDS = 10
    old = now - timedelta(seconds=10)
    assert outbox.retry_at(CONTACT_SYNC, attempts=1, since=old, now=now) is None


@pytest.mark.django_db
def test_a_sync_retried_on_a_new_event_counts_its_age_from_then(wix, settings):
    settings.OUTBOX_CONTACT_SYNC_MAX_AGE_SECONDS = 3600
    (sync,) = _syncs(1)
    WixContactSync.objects.filter(pk=sync.pk).update(status=Sync.FAILED, attempt_count=5)
    WixContactSync.objects.filter(pk=sync.pk).update(created_at=timezone.now() - timedelta(days=3))
    sync.refresh_from_db()
    contacts.contact_sync_request(client=sync.client, reason="proposal_accepted")
    sync.refresh_from_db()
    assert (sync.status, sync.attempt_count) == (Sync.PENDING, 0)
    assert sync.retried_at is not None
    wix.faults(outage=True, paths=["/contacts"])
    settings.WIX_MAX_ATTEMPTS = 1
    # Three days old, yet a transient failure is retried: the age counts from the new request.
    assert contacts.contact_sync_run(sync_id=sync.pk) == "retry"


# --- the drain's bounds and costs ----------------------------------------------------------------


@pytest.mark.django_db
def test_a_drain_out_of_time_gives_the_rest_back_unattempted(settings, monkeypatch):
    settings.OUTBOX_WEBHOOK_RECEIPT_DRAIN_SECONDS = 0.15
    _receipts(20)
    real_handle = webhooks._handle

    def slow_handle(receipt):
        time.sleep(0.05)
        return real_handle(receipt)

    monkeypatch.setattr(webhooks, "_handle", slow_handle)

    totals = outbox.drain("webhook_receipt")

    done = WebhookReceipt.objects.filter(status=Receipt.IGNORED)
    left = WebhookReceipt.objects.filter(status=Receipt.PENDING)
    assert 1 <= done.count() <= 5 and totals["left"] == left.count() == 20 - done.count()
    assert set(left.values_list("attempt_count", flat=True)) == {0}
    assert not left.filter(claimed_until__isnull=False).exists()
    assert queued_drains() == ["webhook_receipt"]  # the next drain takes the rest


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["webhook_receipt", "contact_sync"])
def test_a_drain_costs_the_same_few_queries_per_row_for_5_and_40_rows(kind, monkeypatch):
    monkeypatch.setattr(contacts, "_upsert", lambda wix, client: f"contact-{client.pk}")
    make = _receipts if kind == "webhook_receipt" else _syncs
    counts = {}
    for n in (5, 40):
        make(n)
        with CaptureQueriesContext(connection) as queries:
            assert outbox.drain(kind)["claimed"] == n
        counts[n] = len(queries.captured_queries)
    # Per batch: the claim and its load, the commit mode set and restored, one UPDATE writing
    # every outcome (and counting the attempts), the last (empty) claim; nothing per row.
    # Contact syncs: one UPDATE more, the clients' Wix contact ids (what the API shows).
    batch = {n: count - CLAIM_PER_ROW * n for n, count in counts.items()}
    assert batch[40] == batch[5] <= (7 if kind == "contact_sync" else 6), counts


@pytest.mark.django_db
def test_a_burst_of_webhooks_queues_one_drain(client, django_capture_on_commit_callbacks, settings):
    # The "drain queued" flag outlives the burst even on a loaded machine (it lives 5 s).
    settings.OUTBOX_DRAIN_FLAG_SECONDS = 120
    for n in range(10):
        with django_capture_on_commit_callbacks(execute=True):
            body = signed(event_type="SomethingNew", event_id=f"evt-burst-{n}")
            assert client.post(URL, data=body, content_type="text/plain").status_code == 200
    assert WebhookReceipt.objects.filter(status=Receipt.PENDING).count() == 10
    assert queued_drains() == ["webhook_receipt"]
    assert run_drains("webhook_receipt") == {"ignored": 10}


@pytest.mark.django_db
def test_a_receipt_whose_worker_died_on_its_last_attempt_is_given_up(settings):
    settings.OUTBOX_WEBHOOK_RECEIPT_MAX_ATTEMPTS = 3
    (receipt,) = _receipts(1)
    # Claimed for its third attempt, then the worker was killed: the lease ran out.
    WebhookReceipt.objects.filter(pk=receipt.pk).update(
        status=Receipt.PROCESSING,
        attempt_count=2,
        claimed_until=timezone.now() - timedelta(seconds=1),
    )
    assert outbox.sweep()["webhook_receipt"] == {"recovered": 1, "drain": True}
    receipt.refresh_from_db()
    assert (receipt.status, receipt.attempt_count) == (Receipt.PENDING, 3)
    assert receipt.last_error == "worker lost while processing"

    assert run_drains("webhook_receipt") == {"failed": 1}
    receipt.refresh_from_db()
    assert (receipt.status, receipt.attempt_count) == (Receipt.FAILED, 3)
    assert "did not finish" in receipt.last_error
    assert receipt.processed_at is None
