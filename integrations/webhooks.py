"""Receive Wix webhooks (store first, answer fast) and process them through the outbox, once.

A verified delivery is stored as a pending ``WebhookReceipt`` and a drain of the
``webhook_receipt`` kind is requested on commit (coalesced: a burst of deliveries costs one
task); the outbox engine (common.outbox) claims due receipts in batches with a lease, takes back
receipts whose worker died, and retries on its one policy (full jitter, Retry-After honoured,
attempt and age limits from settings).
"""

import time

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Business
from common import outbox, ratelimit
from common.request_id import current_request_id
from integrations import lifecycle
from integrations.kinds import (
    WEBHOOK_RECEIPT,
    batch_of_wix_work,
    commits_without_waiting,
    write_done,
)
from integrations.models import WebhookReceipt
from integrations.wix.client import WixError
from integrations.wix.webhooks import WebhookRejected, WixEvent, verify

log = structlog.get_logger(__name__)

Status = WebhookReceipt.Status


def webhook_receive(*, body: bytes | None, size: int) -> tuple[WebhookReceipt | None, int, str]:
    """Verify and store one delivery; returns (receipt, HTTP status, rejection reason or "").

    ``body`` is None when the declared ``size`` was over the limit and it was never read.
    A rejection is stored too, unless a flood of them passes ``WIX_WEBHOOK_REJECTED_PER_MINUTE``
    (then it is only logged and the receipt is None): junk must not be able to fill the database.
    """
    request_id = current_request_id() or ""
    body = body or b""
    try:
        if size > settings.WIX_WEBHOOK_MAX_BYTES or len(body) > settings.WIX_WEBHOOK_MAX_BYTES:
            raise WebhookRejected("body_too_large", status=413)
        event = verify(body)
    except WebhookRejected as exc:
        receipt = None
        if _may_store_rejection():
            receipt = WebhookReceipt.objects.create(
                status=Status.REJECTED,
                verified=False,
                rejected_reason=exc.reason,
                body_size=max(size, len(body)),
                raw_excerpt="" if exc.reason == "body_too_large" else _printable(body[:2000]),
                request_id=request_id,
            )
        log.warning(
            "wix_webhook_rejected",
            reason=exc.reason,
            receipt_id=receipt.pk if receipt else None,
            stored=receipt is not None,
        )
        return receipt, exc.status, exc.reason
    return _store(event, body_size=len(body), request_id=request_id), 200, ""


def _may_store_rejection() -> bool:
    """Count one rejection; False once this minute has had WIX_WEBHOOK_REJECTED_PER_MINUTE."""
    rate = ratelimit.Rate(limit=settings.WIX_WEBHOOK_REJECTED_PER_MINUTE, window=60)
    return ratelimit.hit_one(ratelimit.Limit(key="wix_webhook_rejected", rate=rate)).allowed


def _printable(raw: bytes) -> str:
    """A safe excerpt for support: control characters (NUL breaks PostgreSQL text) escaped."""
    text = raw.decode("utf-8", errors="backslashreplace")
    return "".join(c if c.isprintable() or c in "\n\t" else f"\\x{ord(c):02x}" for c in text)


def _store(event: WixEvent, *, body_size: int, request_id: str) -> WebhookReceipt:
    now = timezone.now()
    try:
        with transaction.atomic():
            receipt = WebhookReceipt.objects.create(
                status=Status.PENDING,
                verified=True,
                event_type=event.event_type,
                instance_id=event.instance_id,
                business=Business.objects.filter(instance_id=event.instance_id).first(),
                claims=event.claims,
                body_size=body_size,
                occurred_at=event.occurred_at,
                dedup_key=event.dedup_key,
                origin_instance_id=event.origin_instance_id,
                request_id=request_id,
                received_at=now,
                last_received_at=now,
                next_attempt_at=now,  # due at once: the drain requested on commit takes it
            )
            outbox.record_on_commit(WEBHOOK_RECEIPT)
    except IntegrityError:
        WebhookReceipt.objects.filter(dedup_key=event.dedup_key).update(
            deliveries=F("deliveries") + 1, last_received_at=now
        )
        receipt = WebhookReceipt.objects.get(dedup_key=event.dedup_key)
        log.info("wix_webhook_duplicate", receipt_id=receipt.pk, event_type=event.event_type)
        return receipt
    log.info(
        "wix_webhook_received",
        receipt_id=receipt.pk,
        event_type=event.event_type,
        instance_id=event.instance_id,
        origin_instance_id=event.origin_instance_id or None,
    )
    return receipt


def webhook_receipts_work(batch: outbox.Batch) -> list[WebhookReceipt]:
    """The kind's work: process each claimed receipt in arrival order; one receipt's failure
    never stops the rest. Returns the receipts not started (the drain's time is up). The
    processed receipts are written together when the batch ends (``batch_of_wix_work``)."""
    with batch_of_wix_work(WEBHOOK_RECEIPT, _PROCESSED_FIELDS) as processed:
        for index, receipt in enumerate(batch.rows):
            if batch.out_of_time():
                return batch.rows[index:]
            batch.count(_process_one(receipt, processed=processed))
    return []


# What a processed receipt writes.
_PROCESSED_FIELDS = [
    "status",
    "attempt_count",
    "business",
    "processed_at",
    "next_attempt_at",
    "claimed_until",
    "last_error",
]


def webhook_process(*, receipt_id: int) -> str:
    """Process one receipt if it is due and nobody holds it (support, tests)."""
    rows = outbox.claim(WEBHOOK_RECEIPT, limit=1, ids=[receipt_id])
    if not rows:
        log.info("wix_webhook_not_claimed", receipt_id=receipt_id)
        return "not claimed"
    with commits_without_waiting():
        return _process_one(rows[0])


def webhook_receipts_interrupted(ids: list[int], *, now) -> int:
    """The sweeper took these receipts back (their worker died): the attempt they were in
    counts, so a receipt that kills its worker still runs out of attempts."""
    return WebhookReceipt.objects.filter(pk__in=ids).update(attempt_count=F("attempt_count") + 1)


def _process_one(receipt: WebhookReceipt, *, processed: list | None = None) -> str:
    """One claimed receipt: an attempt, written with its outcome in one UPDATE (given
    ``processed``, appended there to be written with the batch's others)."""
    # Logs (and Wix call records) follow the delivery's own request, not the drain task's.
    context: dict[str, object] = {"receipt_id": receipt.pk}
    if receipt.request_id:
        context["request_id"] = receipt.request_id
    with structlog.contextvars.bound_contextvars(**context):
        if receipt.attempt_count >= WEBHOOK_RECEIPT.setting("MAX_ATTEMPTS"):
            # The worker running the last allowed attempt died (lease expired): not re-run.
            return _failed(
                receipt,
                error="gave up: the last allowed attempt did not finish",
                permanent=True,
                attempted=False,
            )
        receipt.attempt_count += 1
        started = time.monotonic()
        try:
            business, outcome = _handle(receipt)
        except WixError as exc:
            return _failed(
                receipt, error=exc.message, permanent=exc.permanent, retry_after=exc.retry_after
            )
        except Exception as exc:
            log.exception("wix_webhook_processing_crashed")
            return _failed(receipt, error=f"{exc.__class__.__name__}: {exc}", permanent=False)
        receipt.status = outcome
        receipt.business = business
        receipt.processed_at = timezone.now()
        receipt.next_attempt_at = receipt.claimed_until = None
        receipt.last_error = ""
        write_done(receipt, _PROCESSED_FIELDS, done=processed, working_state=Status.PROCESSING)
        log.info(
            "wix_webhook_processed",
            outcome=outcome,
            duration_ms=int((time.monotonic() - started) * 1000),
        )
        return outcome


def _failed(
    receipt: WebhookReceipt,
    *,
    error: str,
    permanent: bool,
    retry_after: float | None = None,
    attempted: bool = True,
) -> str:
    retry_at = None
    if not permanent:
        retry_at = outbox.retry_at(
            WEBHOOK_RECEIPT,
            attempts=receipt.attempt_count,
            since=receipt.retried_at or receipt.received_at,
            now=timezone.now(),
            retry_after=retry_after,
        )
    counted = {"attempt_count": F("attempt_count") + 1} if attempted else {}
    WebhookReceipt.objects.filter(pk=receipt.pk, status=Status.PROCESSING).update(
        status=Status.FAILED if retry_at is None else Status.PENDING,
        next_attempt_at=retry_at,
        claimed_until=None,
        last_error=error[:500],
        **counted,
    )
    log.warning(
        "wix_webhook_processing_failed",
        error=error,
        permanent=permanent,
        attempts=receipt.attempt_count,
        will_retry=retry_at is not None,
    )
    return "failed" if retry_at is None else "retry"


def _handle(receipt: WebhookReceipt) -> tuple[Business | None, str]:
    kind = lifecycle.normalize_event_type(receipt.event_type)
    data = (receipt.claims or {}).get("data", {}).get("data") or {}
    occurred_at = receipt.occurred_at or receipt.received_at
    business: Business | None
    if kind == "AppInstalled":
        business, _ = lifecycle.business_install(
            instance_id=receipt.instance_id, occurred_at=occurred_at
        )
        if receipt.origin_instance_id:
            # A copy of another site: its own instance, data and token; the origin is noted.
            log.info(
                "wix_site_duplicated",
                business_id=business.pk,
                origin_instance_id=receipt.origin_instance_id,
            )
        if business.is_active:
            lifecycle.business_refresh_from_wix(business=business)
        return business, Status.PROCESSED
    if kind == "AppRemoved":
        business = lifecycle.business_uninstall(
            instance_id=receipt.instance_id, occurred_at=occurred_at
        )
        return business, Status.PROCESSED
    if kind in lifecycle.PLAN_KINDS:
        business = Business.objects.filter(instance_id=receipt.instance_id).first()
        if business is None:
            # Billing for an instance we have not seen installed yet: the instance exists.
            business, _ = lifecycle.business_install(
                instance_id=receipt.instance_id, occurred_at=occurred_at
            )
        applied = lifecycle.business_apply_plan_event(
            business=business, kind=kind, data=data, occurred_at=occurred_at
        )
        return business, Status.PROCESSED if applied else Status.IGNORED
    log.info("wix_webhook_event_ignored", event_type=receipt.event_type)
    return None, Status.IGNORED
