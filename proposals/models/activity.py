from django.conf import settings
from django.db import models

from accounts.scoping import BusinessOwned


class Activity(BusinessOwned):
    """One event on a proposal's timeline, with who or what caused it."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        EDITED = "edited", "Edited"
        SENT = "sent", "Sent"
        DELIVERY_SENT = "delivery_sent", "Email delivered"
        DELIVERY_FAILED = "delivery_failed", "Email failed"
        DELIVERY_BOUNCED = "delivery_bounced", "Email bounced"
        DELIVERY_COMPLAINED = "delivery_complained", "Email marked as spam"
        VIEWED = "viewed", "Opened"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        EXPIRED = "expired", "Expired"
        REMINDED = "reminded", "Reminder sent"
        WITHDRAWN = "withdrawn", "Withdrawn"
        DUPLICATED = "duplicated", "Duplicated"
        INVOICE_SENT = "invoice_sent", "Invoice sent"
        INVOICE_PAYMENT = "invoice_payment", "Invoice payment"
        INVOICE_FAILED = "invoice_failed", "Invoice failed"

    class Actor(models.TextChoices):
        USER = "user", "User"
        CLIENT = "client", "Client"
        SYSTEM = "system", "System"

    proposal = models.ForeignKey(
        "proposals.Proposal", on_delete=models.CASCADE, related_name="activities"
    )
    version = models.ForeignKey(
        "proposals.ProposalVersion", null=True, blank=True, on_delete=models.SET_NULL
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    actor_type = models.CharField(max_length=16, choices=Actor.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    details = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=128, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name_plural = "activities"
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["proposal", "-created_at"]),
            models.Index(fields=["business", "kind", "-created_at"]),
            # The support console's activity list filtered by kind, across businesses.
            models.Index(fields=["kind", "-created_at", "-id"], name="activity_kind_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.proposal_id}"
