"""What a mail service's tracking events do to our deliveries (bounced, complained, delivered).

An event names its message by the id the service gave it on send (``provider_message_id``:
the service's own id through anymail, our Message-ID over SMTP). Each event is stored once
(``DeliveryEvent``, unique per service and event id): the same webhook twice changes nothing.
A bounce marks the delivery bounced with the reason on the proposal's timeline; a hard bounce
or a complaint suppresses the address for that business (``suppressions``). An event for a
message we do not know is acknowledged and logged, never an error the service retries forever.
"""

import hashlib

import structlog
from anymail.signals import AnymailTrackingEvent, EventType, RejectReason
from django.db import transaction
from django.utils import timezone

from common.text import one_line
from proposals.delivery import suppressions
from proposals.delivery.outcomes import delivery_activity_build
from proposals.delivery.rows import insert_once
from proposals.models import Activity, Delivery, DeliveryEvent, Suppression

log = structlog.get_logger(__name__)

_TYPES = {
    EventType.DELIVERED: DeliveryEvent.Type.DELIVERED,
    EventType.BOUNCED: DeliveryEvent.Type.BOUNCED,
    EventType.REJECTED: DeliveryEvent.Type.REJECTED,
    EventType.DEFERRED: DeliveryEvent.Type.DEFERRED,
    EventType.COMPLAINED: DeliveryEvent.Type.COMPLAINED,
}
# A refusal by the service itself suppresses the address only when it is about the address.
_HARD_REJECTS = {RejectReason.BOUNCED, RejectReason.INVALID, RejectReason.SPAM}
# What the business reads when the service gave no description.
_DEFAULT_REASONS: dict[str, str] = {
    DeliveryEvent.Type.BOUNCED: "the recipient's mail server refused the email",
    DeliveryEvent.Type.REJECTED: "the email service refused to send the email",
}


class EventTooEarly(Exception):
    """The event's delivery is being sent right now: its outcome is not written yet.

    The webhook answers 409 and the service delivers the event again later (Mailgun retries
    any answer but 2xx and 406 for 8 hours), once the send's outcome is there to change.
    """


def _text(value, limit: int = 500) -> str:
    return one_line(value, max_length=limit) if isinstance(value, str) else ""


def _event_id(esp: str, event: AnymailTrackingEvent, message_id: str, kind: str) -> str:
    if isinstance(event.event_id, str) and _text(event.event_id, 255):
        return _text(event.event_id, 255)  # no NUL or control characters reach the database
    # A service that names no event id: the same event reported twice has the same facts.
    stamp = event.timestamp.isoformat() if event.timestamp else ""
    facts = f"{esp}|{message_id}|{kind}|{stamp}|{event.recipient or ''}"
    return "sha256:" + hashlib.sha256(facts.encode()).hexdigest()


def _timeline(delivery: Delivery, *, kind: str, details: dict) -> None:
    activity = delivery_activity_build(delivery, kind=kind, details=details)
    if activity is not None:
        activity.save(force_insert=True)


def _bounced(delivery: Delivery, stored: DeliveryEvent, *, now) -> None:
    reason = (stored.description or stored.mta_response or _DEFAULT_REASONS[stored.event_type])[
        :500
    ]
    first = delivery.bounced_at is None
    updates: dict[str, object] = {}
    if first:
        updates.update(bounced_at=stored.occurred_at or now, bounce_reason=reason)
    if delivery.state == Delivery.State.SENT:
        updates["state"] = Delivery.State.BOUNCED
        updates["last_error"] = f"bounced: {reason}"
    if updates:
        Delivery.objects.filter(pk=delivery.pk).update(updated_at=now, **updates)
    hard = stored.event_type == DeliveryEvent.Type.BOUNCED or stored.reject_reason in _HARD_REJECTS
    if first:
        _timeline(
            delivery,
            kind=Activity.Kind.DELIVERY_BOUNCED,
            details={
                "reason": reason,
                "suppressed": hard,
                "summary": f"email to {delivery.recipient} bounced: {reason}",
            },
        )
    if hard:
        suppressions.suppression_add(
            delivery=delivery, reason=Suppression.Reason.BOUNCED, detail=reason
        )


def _complained(delivery: Delivery, stored: DeliveryEvent, *, now) -> None:
    if delivery.complained_at is None:
        Delivery.objects.filter(pk=delivery.pk).update(
            complained_at=stored.occurred_at or now, updated_at=now
        )
        _timeline(
            delivery,
            kind=Activity.Kind.DELIVERY_COMPLAINED,
            details={
                "suppressed": True,
                "summary": f"{delivery.recipient} marked the email as spam",
            },
        )
    suppressions.suppression_add(
        delivery=delivery,
        reason=Suppression.Reason.COMPLAINED,
        detail=stored.description or "marked as spam",
    )


def _delivered(delivery: Delivery, stored: DeliveryEvent, *, now) -> None:
    if delivery.delivered_at is None and delivery.state != Delivery.State.BOUNCED:
        Delivery.objects.filter(pk=delivery.pk, delivered_at__isnull=True).update(
            delivered_at=stored.occurred_at or now, updated_at=now
        )


_APPLY = {
    DeliveryEvent.Type.DELIVERED: _delivered,
    DeliveryEvent.Type.BOUNCED: _bounced,
    DeliveryEvent.Type.REJECTED: _bounced,
    DeliveryEvent.Type.COMPLAINED: _complained,
}


# What applying an event reads of its delivery (not the context, texts or counters).
_FIELDS = (
    "id",
    "business_id",
    "proposal_id",
    "version_id",
    "kind",
    "recipient",
    "state",
    "request_id",
    "delivered_at",
    "bounced_at",
    "complained_at",
)


def delivery_event_record(*, esp: str, event: AnymailTrackingEvent) -> str:
    """Apply one tracking event once. Returns what happened (for the log and the tests):
    ``applied``, ``duplicate``, ``ignored`` (a type we do not act on) or ``unknown_message``.
    Raises ``EventTooEarly`` while the delivery is being sent.
    """
    kind = _TYPES.get(event.event_type)
    message_id = _text(event.message_id, 255)
    context = {"esp": esp, "event_type": str(event.event_type), "message_id": message_id}
    if kind is None:
        log.info("delivery_event_ignored", **context)
        return "ignored"
    if not message_id:
        log.warning("delivery_event_unknown_message", **context)
        return "unknown_message"
    now = timezone.now()
    with transaction.atomic():
        # Locked: events of one delivery apply one at a time (a bounce and a complaint at once).
        # Unordered (one row in practice): served by the provider id index alone.
        found = list(
            Delivery.objects.select_for_update()
            .filter(provider_message_id=message_id)
            .only(*_FIELDS)
            .order_by()[:1]
        )
        delivery = found[0] if found else None
        if delivery is None:
            # Mail sent before this id was kept, by another system, or a test from the service.
            log.warning("delivery_event_unknown_message", **context)
            return "unknown_message"
        if delivery.state == Delivery.State.SENDING:
            # The drain would write "sent" over a bounce applied now: not yet.
            log.info("delivery_event_too_early", delivery_id=delivery.pk, **context)
            raise EventTooEarly(delivery.pk)
        stored = DeliveryEvent(
            business_id=delivery.business_id,
            delivery=delivery,
            esp=esp[:32],
            event_id=_event_id(esp, event, message_id, kind),
            event_type=kind,
            reject_reason=_text(event.reject_reason, 32),
            description=_text(event.description),
            mta_response=_text(event.mta_response),
            occurred_at=event.timestamp,
        )
        if not insert_once(stored):
            log.info("delivery_event_duplicate", delivery_id=delivery.pk, **context)
            return "duplicate"
        apply = _APPLY.get(kind)
        if apply is not None:
            apply(delivery, stored, now=now)
    log.info(
        "delivery_event_applied",
        delivery_id=delivery.pk,
        business_id=delivery.business_id,
        **context,
    )
    return "applied"
