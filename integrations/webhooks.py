"""Receive Wix webhooks (store first, answer fast) and process them in a task, once."""

from datetime import timedelta

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Business
from common import ratelimit
from common.request_id import current_request_id
from integrations import lifecycle
from integrations.models import WebhookReceipt
from integrations.wix.client import WixError
from integrations.wix.webhooks import WebhookRejected, WixEvent, verify

log = structlog.get_logger(__name__)

Status = WebhookReceipt.Status
MAX_ATTEMPTS = 10


def claim_lease() -> timedelta:
    """How long a claim holds: longer than a task may live, so a live worker is never raced."""
    return timedelta(seconds=settings.Q_TIMEOUT + 30)


def _enqueue(receipt_id: int) -> bool:
    """Queue the processing task. Never raises: the sweeper picks up a receipt left pending."""
    from django_q.tasks import async_task

    try:
        async_task(
            "integrations.tasks.process_webhook_receipt", receipt_id, task_name="wix-webhook"
        )
    except Exception as exc:  # the broker being down must not turn a stored delivery into a 500
        log.warning(
            "wix_webhook_enqueue_failed", receipt_id=receipt_id, error=exc.__class__.__name__
        )
        return False
    return True


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
                request_id=request_id,
            )
            transaction.on_commit(lambda: _enqueue(receipt.pk))
    except IntegrityError:
        WebhookReceipt.objects.filter(dedup_key=event.dedup_key).update(
            deliveries=F("deliveries") + 1, last_received_at=timezone.now()
        )
        receipt = WebhookReceipt.objects.get(dedup_key=event.dedup_key)
        log.info("wix_webhook_duplicate", receipt_id=receipt.pk, event_type=event.event_type)
        return receipt
    log.info(
        "wix_webhook_received",
        receipt_id=receipt.pk,
        event_type=event.event_type,
        instance_id=event.instance_id,
    )
    return receipt


def webhook_claim(*, receipt_id: int) -> WebhookReceipt | None:
    """Take the receipt for processing, atomically; None when someone else has it or it is done."""
    now = timezone.now()
    claimable = Q(status=Status.PENDING) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    ) | Q(status=Status.PROCESSING, claimed_at__lt=now - claim_lease())
    claimed = (
        WebhookReceipt.objects.filter(pk=receipt_id)
        .filter(claimable)
        .update(status=Status.PROCESSING, claimed_at=now, attempts=F("attempts") + 1)
    )
    if not claimed:
        return None
    return WebhookReceipt.objects.get(pk=receipt_id)


def webhook_process(*, receipt_id: int) -> str:
    receipt = webhook_claim(receipt_id=receipt_id)
    if receipt is None:
        log.info("wix_webhook_not_claimed", receipt_id=receipt_id)
        return "not claimed"
    try:
        business, outcome = _handle(receipt)
    except WixError as exc:
        return _failed(receipt, error=exc.message, permanent=exc.permanent)
    except Exception as exc:
        log.exception("wix_webhook_processing_crashed", receipt_id=receipt.pk)
        return _failed(receipt, error=f"{exc.__class__.__name__}: {exc}", permanent=False)
    WebhookReceipt.objects.filter(pk=receipt.pk, status=Status.PROCESSING).update(
        status=outcome,
        business=business,
        processed_at=timezone.now(),
        claimed_at=None,
        error="",
    )
    log.info("wix_webhook_processed", receipt_id=receipt.pk, outcome=outcome)
    return outcome


def _failed(receipt: WebhookReceipt, *, error: str, permanent: bool) -> str:
    give_up = permanent or receipt.attempts >= MAX_ATTEMPTS
    delay = timedelta(seconds=min(3600, 15 * 2**receipt.attempts))
    WebhookReceipt.objects.filter(pk=receipt.pk, status=Status.PROCESSING).update(
        status=Status.FAILED if give_up else Status.PENDING,
        next_attempt_at=None if give_up else timezone.now() + delay,
        claimed_at=None,
        error=error[:500],
    )
    log.warning(
        "wix_webhook_processing_failed",
        receipt_id=receipt.pk,
        error=error,
        permanent=permanent,
        attempts=receipt.attempts,
        will_retry=not give_up,
    )
    return "failed" if give_up else "retry"


def _handle(receipt: WebhookReceipt) -> tuple[Business | None, str]:
    kind = lifecycle.normalize_event_type(receipt.event_type)
    data = (receipt.claims or {}).get("data", {}).get("data") or {}
    occurred_at = receipt.occurred_at or receipt.received_at
    if kind == "AppInstalled":
        business, _ = lifecycle.business_install(
            instance_id=receipt.instance_id, occurred_at=occurred_at
        )
        if business.is_active:
            lifecycle.business_refresh_from_wix(business=business)
        return business, Status.PROCESSED
    if kind == "AppRemoved":
        business = lifecycle.business_uninstall(
            instance_id=receipt.instance_id, occurred_at=occurred_at
        )
        return business, Status.PROCESSED if business else Status.IGNORED
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


def webhook_sweep(*, now=None) -> int:
    """Re-enqueue receipts whose enqueue was lost, whose worker died, or whose retry is due.

    One read (served by the ``status, next_attempt_at`` index: processed and rejected
    receipts are never touched) and one bulk enqueue, whatever the number of rows.
    """
    from common.queue import enqueue_many

    now = now or timezone.now()
    due = list(
        WebhookReceipt.objects.filter(
            Q(status=Status.PENDING, next_attempt_at__lte=now)
            | Q(
                status=Status.PENDING,
                next_attempt_at__isnull=True,
                received_at__lt=now - timedelta(seconds=60),
            )
            | Q(status=Status.PROCESSING, claimed_at__lt=now - claim_lease())
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    try:
        count = enqueue_many(
            "integrations.tasks.process_webhook_receipt",
            [(pk,) for pk in due],
            task_name="wix-webhook",
        )
    except Exception as exc:  # the broker being down: the receipts stay due for the next sweep
        log.warning("wix_webhook_enqueue_failed", count=len(due), error=exc.__class__.__name__)
        return 0
    if count:
        log.info("wix_webhook_sweep", enqueued=count)
    return count
