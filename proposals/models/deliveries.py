from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from accounts.scoping import BusinessOwned
from common.outbox.models import AttemptBase, OutboxRow


class DeliveryState(models.TextChoices):
    """Where a delivery stands (``Delivery.State``)."""

    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED_RETRYING = "failed_retrying", "Failed, will retry"
    FAILED_PERMANENT = "failed_permanent", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    # Accepted by the mail server or service, then reported undeliverable (a webhook).
    BOUNCED = "bounced", "Bounced"


# Waiting for a worker: due now or at ``next_attempt_at`` (the drain's and the sweeper's
# states; cancelled when the proposal closes).
_WAITING = (DeliveryState.PENDING, DeliveryState.FAILED_RETRYING)


class Delivery(OutboxRow, BusinessOwned):
    """An email that must go out (the outbox row), written with the change that causes it."""

    class Kind(models.TextChoices):
        PROPOSAL = "proposal", "Proposal to client"
        REMINDER = "reminder", "Reminder to client"
        ACCEPTANCE_CONFIRMATION = "acceptance_confirmation", "Acceptance copy to client"
        OWNER_VIEWED = "owner_viewed", "Owner: first view"
        OWNER_ACCEPTED = "owner_accepted", "Owner: accepted"
        OWNER_DECLINED = "owner_declined", "Owner: declined"
        OWNER_EXPIRED = "owner_expired", "Owner: expired"
        CLIENT_WITHDRAWN = "client_withdrawn", "Withdrawal notice to client"

    State = DeliveryState
    # The sets of states the code asks about, each defined once.
    WAITING_STATES = _WAITING
    # Not finished: waiting or in a worker's hands (queue depth, open-delivery metrics).
    OPEN_STATES = (*_WAITING, DeliveryState.SENDING)
    # The mail server never took it (what an outage leaves; the bulk retry after one).
    SEND_FAILED_STATES = (DeliveryState.FAILED_PERMANENT, DeliveryState.FAILED_RETRYING)
    # Failed as the business and support see it: not sent, or sent and bounced.
    FAILED_STATES = (*SEND_FAILED_STATES, DeliveryState.BOUNCED)
    # What "retry" may send again: anything not sent nor cancelled, a bounce included (its
    # address must not be suppressed any more); a live "sending" is refused by the service.
    RETRYABLE_STATES = (*FAILED_STATES, DeliveryState.PENDING, DeliveryState.SENDING)
    # It will never go out (unless retried by hand).
    GIVEN_UP_STATES = (DeliveryState.FAILED_PERMANENT, DeliveryState.CANCELLED)
    # Nothing more will happen to it by itself.
    FINAL_STATES = (DeliveryState.SENT, DeliveryState.BOUNCED, *GIVEN_UP_STATES)
    # Moves on within seconds: one untouched for long means no worker took it ("stuck").
    STUCK_STATES = (DeliveryState.PENDING, DeliveryState.SENDING)

    kind = models.CharField(max_length=32, choices=Kind.choices)
    recipient = models.EmailField()
    proposal = models.ForeignKey(
        "proposals.Proposal", null=True, blank=True, on_delete=models.CASCADE,
        related_name="deliveries",
    )  # fmt: skip
    version = models.ForeignKey(
        "proposals.ProposalVersion", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="deliveries",
    )  # fmt: skip
    # What the email needs beyond the rows above (a personal message, a decline reason).
    context = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    # attempt_count, next_attempt_at, claimed_until, last_error: the outbox's (OutboxRow).
    # Unused since deliveries are drained (common/outbox); kept for the data that has it.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    # The id the mail service's webhooks name the message by: an email service's own id
    # (anymail's ``message.anymail_status.message_id``), our Message-ID over SMTP.
    provider_message_id = models.CharField(max_length=255, blank=True, default="", db_default="")
    # From the mail service's tracking webhooks (proposals.delivery.events).
    delivered_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    complained_at = models.DateTimeField(null=True, blank=True)
    bounce_reason = models.CharField(max_length=500, blank=True, default="", db_default="")
    request_id = models.CharField(max_length=128, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # A retry by hand starts a fresh round: attempt_count and the maximum age count from here.
    retried_at = models.DateTimeField(null=True, blank=True)
    retried_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["business", "state", "-created_at"]),
            # A business's emails newest first (API deliveries list), whatever their state.
            models.Index(
                fields=["business", "-created_at", "-id"], name="delivery_business_recent_idx"
            ),
            models.Index(fields=["proposal", "-created_at"]),
            # Stuck and recently failed deliveries (support overview, sweeper, metrics).
            models.Index(fields=["state", "updated_at"], name="delivery_state_updated_idx"),
            # The sweeper: due rows in due order, and leases that ran out (both small sets).
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=models.Q(state__in=list(_WAITING)),
                name="delivery_due_idx",
            ),
            models.Index(
                fields=["claimed_until", "id"],
                condition=models.Q(state=DeliveryState.SENDING),
                name="delivery_lease_idx",
            ),
            # The support console: newest first, by state, by recipient address.
            models.Index(fields=["-created_at", "-id"], name="delivery_created_idx"),
            models.Index(fields=["state", "-created_at", "-id"], name="delivery_state_created_idx"),
            models.Index(Lower("recipient"), name="delivery_recipient_ci"),
            # A tracking webhook finds its delivery by the mail service's message id.
            models.Index(
                fields=["provider_message_id"],
                condition=~models.Q(provider_message_id=""),
                name="delivery_provider_msgid_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.recipient} ({self.state})"


class DeliveryAttempt(AttemptBase):
    """One try at sending a delivery, with its outcome."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    smtp_code = models.PositiveIntegerField(null=True, blank=True)
    smtp_message = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="attempt_number_unique")
        ]
        indexes = [models.Index(fields=["outcome", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number} {self.outcome}"


class DeliveryEvent(BusinessOwned):
    """One tracking event (delivered, bounced, complained, …) a mail service reported."""

    class Type(models.TextChoices):
        # anymail's normalised event types that we act on or keep.
        DELIVERED = "delivered", "Delivered"
        BOUNCED = "bounced", "Bounced"
        REJECTED = "rejected", "Rejected by the mail service"
        DEFERRED = "deferred", "Delayed, the service retries"
        COMPLAINED = "complained", "Marked as spam"
        OTHER = "other", "Other"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="events")
    esp = models.CharField(max_length=32)
    # The service's id of this event: the same webhook twice is one row.
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=16, choices=Type.choices)
    reject_reason = models.CharField(max_length=32, blank=True)
    description = models.CharField(max_length=500, blank=True)
    mta_response = models.CharField(max_length=500, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["esp", "event_id"], name="delivery_event_unique")
        ]
        indexes = [models.Index(fields=["delivery", "-received_at"])]

    def __str__(self) -> str:
        return f"{self.esp} {self.event_type} for delivery {self.delivery_id}"


class Suppression(BusinessOwned):
    """An address this business no longer emails (hard bounce or spam complaint) until lifted."""

    class Reason(models.TextChoices):
        BOUNCED = "bounced", "Hard bounce"
        COMPLAINED = "complained", "Spam complaint"

    # Kept lower-cased: one suppression per address whatever its spelling.
    address = models.EmailField()
    reason = models.CharField(max_length=16, choices=Reason.choices)
    detail = models.CharField(max_length=500, blank=True)
    delivery = models.ForeignKey(
        Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lift_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["business", "address"],
                condition=models.Q(lifted_at__isnull=True),
                name="suppression_active_unique",
            )
        ]
        indexes = [
            models.Index(fields=["business", "-created_at"]),
            # The support page: a business's suppressions, active first (DESC puts NULL first
            # on PostgreSQL, as the query asks), newest first.
            models.Index(
                fields=["business", "-lifted_at", "-created_at", "-id"],
                name="suppression_business_list_idx",
            ),
            # The admin's list: by address (search), newest first, by reason.
            models.Index(fields=["address"], name="suppression_address_idx"),
            models.Index(fields=["-created_at", "-id"], name="suppression_created_idx"),
            models.Index(
                fields=["reason", "-created_at", "-id"], name="suppression_reason_created_idx"
            ),
        ]

    @property
    def active(self) -> bool:
        return self.lifted_at is None

    def __str__(self) -> str:
        return f"{self.address} ({self.get_reason_display()})"
