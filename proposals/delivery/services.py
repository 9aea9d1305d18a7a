"""The delivery pipeline's services: record an email, cancel the ones no longer wanted, retry
one by hand (an outbox kind; the sending is ``proposals.delivery.sending``).

The ``Delivery`` row is the durable record that an email must go out; it is written in the
transaction of the change that causes it. Asking for a drain on commit is only the fast path:
the outbox sweeper (common/outbox) finds due rows nobody drains and rows whose worker died.
"""

from datetime import datetime

import structlog
from django.db import transaction
from django.utils import timezone

from accounts.models import Business
from common import outbox
from common.request_id import current_request_id
from proposals.delivery import mailer, suppressions
from proposals.delivery.kind import DELIVERY
from proposals.delivery.sending import deliveries_interrupted
from proposals.models import Delivery, Proposal, ProposalVersion

log = structlog.get_logger(__name__)


class DeliveryRetryError(Exception):
    """A retry that cannot be done; ``code`` is machine-readable."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


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

    The same idempotency key returns the existing row: recording twice sends once. A drain is
    asked for only once the caller's transaction commits (many rows in one burst ask once);
    if that request is lost, the sweeper drains the row anyway.
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
        outbox.record_on_commit(DELIVERY)
        log.info("delivery_recorded", delivery_id=delivery.pk, kind=kind, business_id=business.pk)
    return delivery


def deliveries_cancel_open(*, proposal_ids: list[int], now: datetime) -> int:
    """Cancel the proposal and reminder emails of these proposals that have not gone out yet
    (the proposals were withdrawn, answered or expired); returns how many. Call inside the
    transaction of that change."""
    return Delivery.objects.filter(
        proposal_id__in=proposal_ids,
        kind__in=[Delivery.Kind.PROPOSAL, Delivery.Kind.REMINDER],
        state__in=Delivery.WAITING_STATES,
    ).update(state=Delivery.State.CANCELLED, updated_at=now)


# Why a delivery outside ``Delivery.RETRYABLE_STATES`` is not retried.
_NOT_RETRYABLE: dict[str, tuple[str, str]] = {
    Delivery.State.SENT: ("This email was already sent.", "already_sent"),
    # Cancelled because the proposal was answered, withdrawn or expired.
    Delivery.State.CANCELLED: ("This email was cancelled.", "cancelled"),
}


def delivery_retry(*, delivery: Delivery, acting_user) -> Delivery:
    """Try a failed or bounced delivery again now (dashboard "retry" button, support action).

    Starts a fresh round of attempts; a bounced email goes out as a new message (a new
    Message-ID, its tracking fields cleared: its events and timeline keep the bounce). Raises
    ``DeliveryRetryError`` when the email already went out, was cancelled, is being sent right
    now, or its address is suppressed for the business (support lifts it first).
    """
    now = timezone.now()
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
        if locked.state not in Delivery.RETRYABLE_STATES:
            message, code = _NOT_RETRYABLE.get(
                locked.state, ("This email cannot be sent again.", "not_retryable")
            )
            raise DeliveryRetryError(message, code=code)
        if (
            locked.state == Delivery.State.SENDING
            and locked.claimed_until
            and (locked.claimed_until > now)
        ):
            raise DeliveryRetryError("This email is being sent right now.", code="in_progress")
        suppression = suppressions.blocking(suppressions.suppressed_for([locked]), locked)
        if suppression is not None:
            # Queued again it would only fail at once, with this same reason.
            raise DeliveryRetryError(
                f"This email cannot be sent: {suppressions.suppression_reason(suppression)}.",
                code="suppressed",
            )
        if locked.state == Delivery.State.SENDING:
            deliveries_interrupted([locked.pk], now=now)
        resend = {}
        if locked.state == Delivery.State.BOUNCED:
            resend = {
                "message_id": mailer.message_id_for(locked, resent_at=now),
                "provider_message_id": "",
                "sent_at": None,
                "delivered_at": None,
                "bounced_at": None,
                "bounce_reason": "",
                "complained_at": None,
            }
        Delivery.objects.filter(pk=locked.pk).update(
            **resend,
            state=Delivery.State.PENDING,
            attempt_count=0,
            next_attempt_at=now,
            claimed_until=None,
            retried_at=now,
            retried_by=acting_user if getattr(acting_user, "pk", None) else None,
            updated_at=now,
        )
        outbox.record_on_commit(DELIVERY)
    log.info(
        "delivery_retry_requested",
        delivery_id=delivery.pk,
        previous_state=locked.state,
        acting_user_id=getattr(acting_user, "pk", None),
    )
    delivery.refresh_from_db()
    return delivery
