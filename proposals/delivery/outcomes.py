"""What a batch of deliveries writes when it is done: attempts, deliveries and their timeline,
together, and through a database restart (``common.outbox.writes.outcomes_written``)."""

import structlog
from django.db import transaction
from django.utils import timezone

from common import outbox
from common.outbox.writes import outcomes_written, update_rows
from proposals.delivery import mailer
from proposals.delivery.kind import DELIVERY
from proposals.models import Activity, Delivery, DeliveryAttempt
from proposals.timeline import activity_build

log = structlog.get_logger(__name__)


def delivery_activity_build(delivery: Delivery, *, kind: str, details: dict) -> Activity | None:
    """The unsaved timeline row about a delivery (None for an email about no proposal)."""
    if delivery.proposal_id is None:
        return None
    return activity_build(
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


class Outcomes:
    """The writes a batch's results need, made together: attempts, deliveries, timeline."""

    def __init__(self) -> None:
        self.attempts: list[DeliveryAttempt] = []
        self.deliveries: list[Delivery] = []
        self.activities: list[Activity] = []

    def __len__(self) -> int:
        return len(self.deliveries)

    def _finish(self, delivery: Delivery, *, state: str, now, error: str = "") -> None:
        delivery.state = state
        delivery.claimed_until = None
        delivery.last_error = error
        delivery.updated_at = now
        self.deliveries.append(delivery)

    def _timeline(self, delivery: Delivery, *, kind: str, details: dict) -> None:
        activity = delivery_activity_build(delivery, kind=kind, details=details)
        if activity is not None:
            self.activities.append(activity)

    def cancelled(self, delivery: Delivery, *, reason: str, now) -> None:
        delivery.next_attempt_at = None
        self._finish(delivery, state=Delivery.State.CANCELLED, now=now, error=reason)
        log.info("delivery_cancelled", delivery_id=delivery.pk, reason=reason)

    def failed(self, delivery: Delivery, *, reason: str, smtp_code: int | None, now) -> None:
        """Failed for good: the reason goes on the proposal's timeline."""
        delivery.next_attempt_at = None
        self._finish(delivery, state=Delivery.State.FAILED_PERMANENT, now=now, error=reason)
        self._timeline(
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

    def attempted(
        self,
        delivery: Delivery,
        attempt: DeliveryAttempt,
        *,
        error: mailer.DeliveryError | None,
        duration_ms: int,
        result: mailer.SendResult | None = None,
    ) -> str:
        now = timezone.now()
        attempt.finished_at = now
        attempt.duration_ms = duration_ms
        self.attempts.append(attempt)
        if error is None:
            attempt.outcome = DeliveryAttempt.Outcome.SENT
            attempt.smtp_code = result.smtp_code if result is not None else 250
            if result is not None:
                delivery.provider_message_id = result.message_id
            delivery.next_attempt_at = None
            delivery.sent_at = now
            self._finish(delivery, state=Delivery.State.SENT, now=now)
            self._timeline(
                delivery,
                kind=Activity.Kind.DELIVERY_SENT,
                details={"attempts": delivery.attempt_count, "message_id": delivery.message_id},
            )
            log.info(
                "delivery_sent",
                delivery_id=delivery.pk,
                kind=delivery.kind,
                recipient=delivery.recipient,
                attempt=attempt.number,
                duration_ms=duration_ms,
            )
            return "sent"
        attempt.outcome = (
            DeliveryAttempt.Outcome.PERMANENT_FAILURE
            if error.permanent
            else DeliveryAttempt.Outcome.TRANSIENT_FAILURE
        )
        attempt.smtp_code = error.smtp_code
        attempt.smtp_message = error.smtp_message
        attempt.error = error.message
        retry_at = None
        if not error.permanent:
            retry_at = outbox.retry_at(
                DELIVERY,
                attempts=delivery.attempt_count,
                since=delivery.retried_at or delivery.created_at,
                now=now,
            )
        if retry_at is None:
            reason = error.message
            if not error.permanent:
                reason = f"{error.message} (gave up after {delivery.attempt_count} attempts)"
            self.failed(delivery, reason=reason, smtp_code=error.smtp_code, now=now)
            return "failed_permanent"
        delivery.next_attempt_at = retry_at
        self._finish(delivery, state=Delivery.State.FAILED_RETRYING, now=now, error=error.message)
        log.info(
            "delivery_retry_scheduled",
            delivery_id=delivery.pk,
            attempt=attempt.number,
            reason=error.message,
            smtp_code=error.smtp_code,
            retry_at=retry_at.isoformat(),
        )
        return "failed_retrying"

    def write(self) -> None:
        """One transaction, at most three statements, whatever the number of outcomes."""
        if not self.deliveries:
            return
        outcomes_written(DELIVERY, self._write)
        self.attempts, self.deliveries, self.activities = [], [], []

    def _write(self) -> None:
        with transaction.atomic():
            if self.attempts:
                update_rows(
                    DeliveryAttempt,
                    self.attempts,
                    ["finished_at", "duration_ms", "outcome", "smtp_code", "smtp_message", "error"],
                )
            update_rows(
                Delivery,
                self.deliveries,
                [
                    "state",
                    "claimed_until",
                    "next_attempt_at",
                    "sent_at",
                    "last_error",
                    "updated_at",
                    "provider_message_id",
                ],
            )
            if self.activities:
                Activity.objects.bulk_create(self.activities)
