"""The delivery pipeline (outbox): record, execute, retry and sweep deliveries.

The ``Delivery`` row is the durable record that an email must go out; it is written in the
transaction of the change that causes it. Enqueueing a django-q2 task on commit is only the
fast path: the sweeper finds every row whose enqueue or worker was lost. A worker claims a row
with a conditional UPDATE (and a lease) before it sends, so duplicates never send twice.
"""

import os
import socket
import time
from datetime import timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Business
from common.request_id import current_request_id
from proposals.delivery import mailer, policy
from proposals.models import Activity, Delivery, DeliveryAttempt, Proposal, ProposalVersion
from proposals.timeline import activity_record

log = structlog.get_logger(__name__)

EXECUTE_TASK = "proposals.delivery.tasks.execute_delivery"
CLAIMABLE = (Delivery.State.PENDING, Delivery.State.FAILED_RETRYING)
# Kinds whose email makes no sense any more once the proposal is withdrawn or answered.
_NEEDS_OPEN_PROPOSAL = (Delivery.Kind.PROPOSAL, Delivery.Kind.REMINDER)


class DeliveryRetryError(Exception):
    """A retry that cannot be done; ``code`` is machine-readable."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def delivery_record(
    *,
    business: Business,
    kind: str,
    recipient: str,
    idempotency_key: str,
    proposal: Proposal | None = None,
    version: ProposalVersion | None = None,
    context: dict | None = None,
) -> Delivery:
    """Record an email that must go out. Call inside the transaction of the change causing it.

    The same idempotency key returns the existing row: recording twice sends once. The task is
    enqueued only once the caller's transaction commits; if that enqueue is lost, the sweeper
    sends the row anyway.
    """
    with transaction.atomic():
        delivery, created = Delivery.objects.get_or_create(
            idempotency_key=idempotency_key,
            defaults={
                "business": business,
                "kind": kind,
                "recipient": recipient,
                "proposal": proposal,
                "version": version,
                "context": context or {},
                "request_id": current_request_id() or "",
                "next_attempt_at": timezone.now(),
            },
        )
    if created:
        delivery_id = delivery.pk
        transaction.on_commit(lambda: delivery_enqueue(delivery_id=delivery_id))
        log.info("delivery_recorded", delivery_id=delivery.pk, kind=kind, business_id=business.pk)
    return delivery


def delivery_enqueue(*, delivery_id: int, now=None) -> None:
    """Put an execute task on the queue. Never raises: the row stays for the sweeper."""
    from django_q.tasks import async_task

    try:
        Delivery.objects.filter(pk=delivery_id).update(enqueued_at=now or timezone.now())
        async_task(EXECUTE_TASK, delivery_id, task_name=f"delivery-{delivery_id}")
    except Exception as exc:  # the broker being down must not fail the committed change
        log.warning("delivery_enqueue_failed", delivery_id=delivery_id, error=repr(exc))


def _claim(delivery: Delivery, *, now) -> bool:
    """Take the row for this worker; only one caller can win (the UPDATE's row count says)."""
    if delivery.state not in CLAIMABLE or (
        delivery.next_attempt_at is not None and delivery.next_attempt_at > now
    ):
        return False
    won = (
        Delivery.objects.filter(
            pk=delivery.pk,
            state=delivery.state,
            attempt_count=delivery.attempt_count,
        )
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(
            state=Delivery.State.SENDING,
            claimed_until=now + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS),
            updated_at=now,
        )
    )
    return won == 1


def _timeline(delivery: Delivery, *, kind: str, details: dict) -> None:
    if delivery.proposal_id is None:
        return
    activity_record(
        business_id=delivery.business_id,
        proposal_id=delivery.proposal_id,
        version_id=delivery.version_id,
        kind=kind,
        actor_type=Activity.Actor.SYSTEM,
        details={
            "delivery_id": delivery.pk,
            "delivery_kind": delivery.kind,
            "recipient": delivery.recipient,
            **details,
        },
        origin_request_id=delivery.request_id,
    )


def _fail_for_good(delivery: Delivery, *, reason: str, smtp_code: int | None, now) -> None:
    """Mark the delivery failed and put the reason on the proposal's timeline."""
    Delivery.objects.filter(pk=delivery.pk).update(
        state=Delivery.State.FAILED_PERMANENT,
        claimed_until=None,
        next_attempt_at=None,
        last_error=reason,
        updated_at=now,
    )
    _timeline(
        delivery,
        kind=Activity.Kind.DELIVERY_FAILED,
        details={
            "reason": reason,
            "smtp_code": smtp_code,
            "attempts": delivery.attempt_count,
            "summary": f"delivery to {delivery.recipient} failed: {reason}",
        },
    )
    log.warning(
        "delivery_failed",
        delivery_id=delivery.pk,
        kind=delivery.kind,
        recipient=delivery.recipient,
        reason=reason,
        smtp_code=smtp_code,
        attempts=delivery.attempt_count,
    )


def _still_wanted(delivery: Delivery) -> str:
    """Empty when the email should go out, else why it is cancelled."""
    if delivery.kind not in _NEEDS_OPEN_PROPOSAL or delivery.proposal_id is None:
        return ""
    proposal = delivery.proposal
    if delivery.kind == Delivery.Kind.REMINDER and not proposal.is_open:
        return f"proposal is {proposal.status}"
    if proposal.status == Proposal.Status.WITHDRAWN:
        return "proposal was withdrawn"
    if delivery.version_id and delivery.version.token_revoked_at:
        return "client link was revoked"
    return ""


def delivery_execute(delivery_id: int) -> str:
    """Send one delivery if it is due and nobody else holds it. Returns what happened.

    Safe to run any number of times, by any number of workers: the claim lets one through,
    the lease lets the sweeper take over from a worker that died mid-send.
    """
    context = {"delivery_id": delivery_id}
    if not current_request_id():
        # Enqueued by the sweeper: log under the id of the request that caused the email.
        origin = Delivery.objects.filter(pk=delivery_id).values_list("request_id", flat=True)
        origin_id = origin.first()
        if origin_id:
            context["request_id"] = origin_id
    with structlog.contextvars.bound_contextvars(**context):
        return _execute(delivery_id)


def _execute(delivery_id: int) -> str:
    now = timezone.now()
    delivery = (
        Delivery.objects.select_related("business", "proposal", "version")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None:
        log.warning("delivery_missing", delivery_id=delivery_id)
        return "missing"
    if not _claim(delivery, now=now):
        log.info("delivery_not_claimed", delivery_id=delivery_id, state=delivery.state)
        return "skipped"
    previous_state = delivery.state

    retry_at = policy.take_send_slot(delivery.business_id, now=now)
    if retry_at is not None:
        # Over the business's rate: give the row back for later without counting an attempt.
        Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.SENDING).update(
            state=previous_state, claimed_until=None, next_attempt_at=retry_at, updated_at=now
        )
        log.info("delivery_rate_limited", delivery_id=delivery.pk, retry_at=retry_at.isoformat())
        return "deferred"

    reason = _still_wanted(delivery)
    if reason:
        Delivery.objects.filter(pk=delivery.pk).update(
            state=Delivery.State.CANCELLED, claimed_until=None, last_error=reason, updated_at=now
        )
        log.info("delivery_cancelled", delivery_id=delivery.pk, reason=reason)
        return "cancelled"

    if delivery.attempt_count >= settings.DELIVERY_MAX_ATTEMPTS:
        # Only reachable after interrupted attempts: a worker keeps dying on this email.
        with transaction.atomic():
            _fail_for_good(
                delivery, reason=delivery.last_error or "too many attempts", smtp_code=None, now=now
            )
        return "failed_permanent"

    delivery.attempt_count += 1
    delivery.message_id = delivery.message_id or mailer.message_id_for(delivery)
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(
            attempt_count=delivery.attempt_count, message_id=delivery.message_id
        )
        attempt = DeliveryAttempt.objects.create(
            delivery=delivery,
            number=_next_attempt_number(delivery),
            started_at=now,
            worker=_worker_name(),
            request_id=current_request_id() or "",
        )
    log.info(
        "delivery_attempt_started",
        delivery_id=delivery.pk,
        attempt=attempt.number,
        kind=delivery.kind,
        recipient=delivery.recipient,
    )

    started = time.monotonic()
    error: mailer.DeliveryError | None = None
    try:
        mailer.send(delivery)
    except mailer.DeliveryError as exc:
        error = exc
    duration_ms = int((time.monotonic() - started) * 1000)
    return _record_outcome(delivery, attempt, error=error, duration_ms=duration_ms)


def _next_attempt_number(delivery: Delivery) -> int:
    last = (
        DeliveryAttempt.objects.filter(delivery_id=delivery.pk)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    return (last or 0) + 1


def _record_outcome(
    delivery: Delivery,
    attempt: DeliveryAttempt,
    *,
    error: mailer.DeliveryError | None,
    duration_ms: int,
) -> str:
    now = timezone.now()
    with transaction.atomic():
        attempt.finished_at = now
        attempt.duration_ms = duration_ms
        if error is None:
            attempt.outcome = DeliveryAttempt.Outcome.SENT
            attempt.smtp_code = 250
            attempt.save(update_fields=["finished_at", "duration_ms", "outcome", "smtp_code"])
            Delivery.objects.filter(pk=delivery.pk).update(
                state=Delivery.State.SENT,
                claimed_until=None,
                next_attempt_at=None,
                sent_at=now,
                last_error="",
                updated_at=now,
            )
            _timeline(
                delivery,
                kind=Activity.Kind.DELIVERY_SENT,
                details={"attempts": delivery.attempt_count, "message_id": delivery.message_id},
            )
            outcome = "sent"
        else:
            attempt.outcome = (
                DeliveryAttempt.Outcome.PERMANENT_FAILURE
                if error.permanent
                else DeliveryAttempt.Outcome.TRANSIENT_FAILURE
            )
            attempt.smtp_code = error.smtp_code
            attempt.smtp_message = error.smtp_message
            attempt.error = error.message
            attempt.save(
                update_fields=[
                    "finished_at",
                    "duration_ms",
                    "outcome",
                    "smtp_code",
                    "smtp_message",
                    "error",
                ]
            )
            retry_at = policy.next_attempt_at(failures=delivery.attempt_count, now=now)
            since = delivery.retried_at or delivery.created_at
            if error.permanent or policy.gives_up(
                attempts=delivery.attempt_count, created_at=since, next_try=retry_at
            ):
                reason = error.message
                if not error.permanent:
                    reason = f"{error.message} (gave up after {delivery.attempt_count} attempts)"
                _fail_for_good(delivery, reason=reason, smtp_code=error.smtp_code, now=now)
                outcome = "failed_permanent"
            else:
                Delivery.objects.filter(pk=delivery.pk).update(
                    state=Delivery.State.FAILED_RETRYING,
                    claimed_until=None,
                    next_attempt_at=retry_at,
                    last_error=error.message,
                    updated_at=now,
                )
                log.info(
                    "delivery_retry_scheduled",
                    delivery_id=delivery.pk,
                    attempt=attempt.number,
                    reason=error.message,
                    smtp_code=error.smtp_code,
                    retry_at=retry_at.isoformat(),
                )
                outcome = "failed_retrying"
    if outcome == "sent":
        log.info(
            "delivery_sent",
            delivery_id=delivery.pk,
            kind=delivery.kind,
            recipient=delivery.recipient,
            attempt=attempt.number,
            duration_ms=duration_ms,
        )
    return outcome


def delivery_retry(*, delivery: Delivery, acting_user) -> Delivery:
    """Try a failed delivery again now (dashboard "retry" button, support action).

    Starts a fresh round of attempts. Raises ``DeliveryRetryError`` when the email already went
    out, was cancelled, or is being sent right now.
    """
    now = timezone.now()
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
        if locked.state == Delivery.State.SENT:
            raise DeliveryRetryError("This email was already sent.", code="already_sent")
        if locked.state == Delivery.State.CANCELLED:
            # Cancelled because the proposal was answered, withdrawn or expired.
            raise DeliveryRetryError("This email was cancelled.", code="cancelled")
        if (
            locked.state == Delivery.State.SENDING
            and locked.claimed_until
            and (locked.claimed_until > now)
        ):
            raise DeliveryRetryError("This email is being sent right now.", code="in_progress")
        if locked.state == Delivery.State.SENDING:
            _interrupt_attempts(locked, now=now)
        Delivery.objects.filter(pk=locked.pk).update(
            state=Delivery.State.PENDING,
            attempt_count=0,
            next_attempt_at=now,
            claimed_until=None,
            retried_at=now,
            retried_by=acting_user if getattr(acting_user, "pk", None) else None,
            updated_at=now,
        )
        transaction.on_commit(lambda: delivery_enqueue(delivery_id=locked.pk))
    log.info(
        "delivery_retry_requested",
        delivery_id=delivery.pk,
        previous_state=locked.state,
        acting_user_id=getattr(acting_user, "pk", None),
    )
    delivery.refresh_from_db()
    return delivery


def _interrupt_attempts(delivery: Delivery, *, now) -> int:
    return DeliveryAttempt.objects.filter(
        delivery_id=delivery.pk, outcome=DeliveryAttempt.Outcome.IN_PROGRESS
    ).update(
        outcome=DeliveryAttempt.Outcome.INTERRUPTED,
        finished_at=now,
        error="worker lost while sending (lease expired)",
    )


def deliveries_enqueue(*, delivery_ids: list[int], now=None, mark_enqueued: bool = True) -> int:
    """Queue execute tasks for many deliveries: one UPDATE and one bulk INSERT (ORM broker).

    ``mark_enqueued=False`` for rows that were written with ``enqueued_at`` already set.
    Never raises: the rows stay for the next sweep if the broker is down.
    """
    from common.queue import enqueue_many

    if not delivery_ids:
        return 0
    try:
        if mark_enqueued:
            Delivery.objects.filter(pk__in=delivery_ids).update(enqueued_at=now or timezone.now())
        # One task name for all: django-q2 keeps names, not ids, in its result rows.
        return enqueue_many(EXECUTE_TASK, [(pk,) for pk in delivery_ids], task_name="delivery")
    except Exception as exc:  # the broker being down must not fail the committed change
        log.warning("delivery_enqueue_failed", count=len(delivery_ids), error=repr(exc))
        return 0


def delivery_sweep(*, now=None) -> dict:
    """Find what the queue lost and put it back: bounded batches, safe to run concurrently.

    - ``sending`` rows whose lease expired: the worker died mid-send. The open attempt becomes
      ``interrupted`` and the row is due again (the worker's own check fails it for good when
      it is out of attempts).
    - due ``pending`` / ``failed_retrying`` rows that nobody enqueued since they became due
      (a retry time passed, a rate-limit deferral ended) or whose enqueue was lost.

    Set-based: a constant number of queries per batch whatever its size (partial indexes
    ``delivery_lease_idx`` and ``delivery_due_idx`` serve the two reads).
    """
    now = now or timezone.now()
    batch = settings.DELIVERY_SWEEP_BATCH_SIZE
    with transaction.atomic():
        expired = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(state=Delivery.State.SENDING, claimed_until__lt=now)
            .order_by("claimed_until", "pk")
            .values_list("pk", "attempt_count")[:batch]
        )
        recovered = [pk for pk, _ in expired]
        if recovered:
            # The rows are locked: a worker finishing right now waits, then finds the row due.
            Delivery.objects.filter(pk__in=recovered, state=Delivery.State.SENDING).update(
                state=Delivery.State.FAILED_RETRYING,
                claimed_until=None,
                next_attempt_at=now,
                last_error="worker lost while sending",
                updated_at=now,
            )
            interrupted = DeliveryAttempt.objects.filter(
                delivery_id__in=recovered, outcome=DeliveryAttempt.Outcome.IN_PROGRESS
            ).update(
                outcome=DeliveryAttempt.Outcome.INTERRUPTED,
                finished_at=now,
                error="worker lost while sending (lease expired)",
            )
            log.warning(
                "delivery_lease_expired",
                delivery_ids=recovered,
                count=len(recovered),
                interrupted_attempts=interrupted,
            )

    grace = now - timedelta(seconds=settings.DELIVERY_SWEEP_GRACE_SECONDS)
    due = list(
        Delivery.objects.filter(state__in=CLAIMABLE, next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .filter(
            Q(enqueued_at__isnull=True)
            | Q(enqueued_at__lt=F("next_attempt_at"))
            | Q(enqueued_at__lt=grace)
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:batch]
    )
    deliveries_enqueue(delivery_ids=due, now=now)
    if recovered or due:
        log.info("delivery_sweep", recovered=len(recovered), enqueued=len(due))
    return {"recovered": len(recovered), "enqueued": len(due)}
