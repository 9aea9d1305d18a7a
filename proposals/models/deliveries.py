from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from accounts.scoping import BusinessOwned
from common.outbox.models import AttemptBase, OutboxRow


class Delivery(OutboxRow, BusinessOwned):
    """An email that must go out (the outbox row), written with the change that causes it."""

    class Kind(models.TextChoices):
        PROPOSAL = "proposal", "Proposal to client"
        REMINDER = "reminder", "Reminder to client"
        ACCEPTANCE_CONFIRMATION = "acceptance_confirmation", "Acceptance copy to client"
        OWNER_VIEWED = "owner_viewed", "Owner: first view"
        OWNER_ACCEPTED = "owner_accepted", "Owner: accepted"
        OWNER_DECLINED = "owner_declined", "Owner: declined"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED_RETRYING = "failed_retrying", "Failed, will retry"
        FAILED_PERMANENT = "failed_permanent", "Failed"
        CANCELLED = "cancelled", "Cancelled"

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
                condition=models.Q(state__in=["pending", "failed_retrying"]),
                name="delivery_due_idx",
            ),
            models.Index(
                fields=["claimed_until", "id"],
                condition=models.Q(state="sending"),
                name="delivery_lease_idx",
            ),
            # The support console: newest first, by state, by recipient address.
            models.Index(fields=["-created_at", "-id"], name="delivery_created_idx"),
            models.Index(fields=["state", "-created_at", "-id"], name="delivery_state_created_idx"),
            models.Index(Lower("recipient"), name="delivery_recipient_ci"),
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
