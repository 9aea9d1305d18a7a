"""Durable records of the Wix integration: calls, tokens, breakers, webhooks, contact sync,
invoices."""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from common.outbox.models import OutboxRow, due_index, lease_index
from proposals.payments import PaymentState


class IntegrationCall(models.Model):
    """One HTTP attempt to Wix, kept for support (never the token or the request body)."""

    business = models.ForeignKey(
        "accounts.Business", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    api = models.CharField(max_length=32, help_text="Circuit breaker group (oauth, apps, …).")
    endpoint = models.CharField(max_length=200)
    method = models.CharField(max_length=8)
    status = models.PositiveSmallIntegerField(null=True, blank=True, help_text="HTTP status.")
    ok = models.BooleanField(default=False)
    duration_ms = models.PositiveIntegerField(default=0)
    attempt = models.PositiveSmallIntegerField(default=1)
    request_id = models.CharField(max_length=128, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["business", "-created_at"]),
            models.Index(fields=["api", "ok", "-created_at"]),
            models.Index(fields=["request_id"]),
            # Support overview, metrics and retention read recent calls across businesses.
            models.Index(fields=["-created_at"], name="integ_call_created_idx"),
            # The support console: newest first (in the changelist's exact order), and failed
            # calls newest first (incidents overview).
            models.Index(fields=["-created_at", "-id"], name="integ_call_created_id_idx"),
            models.Index(
                fields=["-created_at", "-id"], condition=Q(ok=False), name="integ_call_failed_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.endpoint} → {self.status or self.error[:40]}"


class WixAccessToken(models.Model):
    """The cached OAuth access token of one app instance; its row lock makes refresh single."""

    instance_id = models.CharField(max_length=64, unique=True)
    access_token = models.TextField(blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"token of {self.instance_id} (expires {self.expires_at})"


class CircuitBreaker(models.Model):
    """Shared state of the circuit breaker of one Wix API, for every process."""

    class State(models.TextChoices):
        CLOSED = "closed", "Closed"
        OPEN = "open", "Open"
        HALF_OPEN = "half_open", "Half-open (probing)"

    api = models.CharField(max_length=32, unique=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.CLOSED)
    consecutive_failures = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True, help_text="When a probe may go out.")
    probe_started_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.api}: {self.state}"


class WebhookReceipt(models.Model):
    """One webhook delivery as received: verified and queued, or rejected with the reason."""

    class Status(models.TextChoices):
        REJECTED = "rejected", "Rejected"
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (stale or unknown)"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    verified = models.BooleanField(default=False)
    rejected_reason = models.CharField(max_length=200, blank=True)
    event_type = models.CharField(max_length=64, blank=True)
    instance_id = models.CharField(max_length=64, blank=True)
    business = models.ForeignKey(
        "accounts.Business", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claims = models.JSONField(null=True, blank=True, help_text="Verified JWT claims, decoded.")
    raw_excerpt = models.TextField(blank=True, help_text="Start of a rejected body, for support.")
    body_size = models.PositiveIntegerField(default=0)
    occurred_at = models.DateTimeField(null=True, blank=True)
    dedup_key = models.CharField(max_length=64, null=True, blank=True)
    origin_instance_id = models.CharField(
        max_length=64,
        blank=True,
        default="",
        db_default="",
        help_text="On a duplicated site: the app's instance on the original site.",
    )
    deliveries = models.PositiveIntegerField(default=1)
    received_at = models.DateTimeField(default=timezone.now)
    last_received_at = models.DateTimeField(default=timezone.now)
    request_id = models.CharField(max_length=128, blank=True)
    # The outbox engine's fields (common.outbox; kind "webhook_receipt" in integrations.kinds):
    # a verified receipt is due from its arrival; the claim's lease ends at claimed_until.
    attempt_count = models.PositiveSmallIntegerField(default=0)
    claimed_until = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # When support last replayed it: the age limit of its retries counts from then.
    retried_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedup_key"],
                condition=Q(dedup_key__isnull=False),
                name="webhook_receipt_dedup_unique",
            )
        ]
        indexes = [
            models.Index(fields=["instance_id", "-received_at"]),
            due_index(
                name="webhook_receipt_due_idx", due_states=("pending",), state_field="status"
            ),
            lease_index(
                name="webhook_receipt_lease_idx", working_state="processing", state_field="status"
            ),
            models.Index(fields=["request_id"], name="webhook_receipt_request_idx"),
            models.Index(fields=["-last_received_at"], name="webhook_receipt_last_idx"),
            # The support console: newest first, and by status (incidents overview).
            models.Index(fields=["-received_at", "-id"], name="webhook_receipt_received_idx"),
            models.Index(
                fields=["status", "-received_at", "-id"], name="webhook_receipt_status_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type or 'webhook'} {self.instance_id} ({self.status})"


class WixUserLink(models.Model):
    """Which local user a Wix user (from the signed dashboard instance) signs in as."""

    wix_user_id = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.wix_user_id} → {self.user_id}"


class WixContactSync(models.Model):
    """Outbox row: upsert one client as a Wix contact (one row per client, ever)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SYNCED = "synced", "Synced"
        FAILED = "failed", "Failed (permanent)"

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="+")
    client = models.OneToOneField(
        "proposals.Client", on_delete=models.CASCADE, related_name="wix_contact_sync"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=32, blank=True, help_text="What caused the last sync.")
    wix_contact_id = models.CharField(max_length=64, blank=True)
    # The address the contact was synced with: a client whose email changed is synced again.
    synced_email = models.EmailField(blank=True)
    # The outbox engine's fields (common.outbox; kind "contact_sync" in integrations.kinds).
    attempt_count = models.PositiveSmallIntegerField(default=0)
    claimed_until = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    synced_at = models.DateTimeField(null=True, blank=True)
    # When a new event gave a failed or synced row a fresh start: the age limit counts from then.
    retried_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            due_index(name="contact_sync_due_idx", due_states=("pending",), state_field="status"),
            lease_index(
                name="contact_sync_lease_idx", working_state="running", state_field="status"
            ),
            # One business's syncs, newest first (support finds them by instance id).
            models.Index(fields=["business", "-id"], name="contact_sync_business_idx"),
        ]

    def __str__(self) -> str:
        return f"contact sync of client {self.client_id} ({self.status})"


class WixInvoice(OutboxRow):
    """Outbox row: one scheduled payment of an accepted proposal, as an invoice in the
    business's Wix site (Get Paid Invoices v4) — created, published, sent to the client when
    due, then watched until it is paid.

    Exactly one Wix invoice per row: ``reference`` is written into the invoice (its extended
    fields), ``create_attempted_at`` is committed before the create call, and a row that has
    tried before looks its invoice up by that reference (and adopts it) before creating again.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        WORKING = "working", "Working"
        DONE = "done", "Done"
        FAILED = "failed", "Failed (permanent)"

    class Step(models.TextChoices):
        CREATE = "create", "Create in Wix"
        PUBLISH = "publish", "Publish"
        SEND = "send", "Send to the client"
        WATCH = "watch", "Watch the payment"

    # What the client has paid: the states proposals shows and the API names.
    Payment = PaymentState

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="+")
    proposal = models.ForeignKey(
        "proposals.Proposal", on_delete=models.CASCADE, related_name="wix_invoices"
    )
    acceptance = models.ForeignKey(
        "proposals.Acceptance", on_delete=models.CASCADE, related_name="wix_invoices"
    )
    position = models.PositiveSmallIntegerField(help_text="1 for the first payment.")
    # The schedule part's kind: "deposit" (due on acceptance) or "milestone".
    kind = models.CharField(max_length=16, default="milestone")
    label = models.CharField(max_length=200)
    amount = models.DecimalField(max_digits=16, decimal_places=4)
    currency = models.CharField(max_length=3)
    due_at = models.DateTimeField()
    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    step = models.CharField(max_length=16, choices=Step.choices, default=Step.CREATE)
    payment = models.CharField(max_length=16, choices=Payment.choices, default=Payment.UNPAID)
    wix_invoice_id = models.CharField(max_length=64, blank=True)
    number = models.CharField(max_length=40, blank=True, help_text="Wix's invoice number.")
    paid_amount = models.DecimalField(max_digits=16, decimal_places=4, default=0)
    # Committed before the create call: a row that has tried looks its invoice up first.
    create_attempted_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # When support (or a new event) gave a failed row a fresh start: the age limit counts from
    # then, else from ``due_at``.
    retried_at = models.DateTimeField(null=True, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["acceptance", "position"], name="wix_invoice_one_per_payment"
            )
        ]
        indexes = [
            due_index(name="wix_invoice_due_idx", due_states=("pending",)),
            lease_index(name="wix_invoice_lease_idx", working_state="working"),
            models.Index(fields=["proposal", "position"], name="wix_invoice_proposal_idx"),
            models.Index(fields=["business", "-id"], name="wix_invoice_business_idx"),
        ]

    def __str__(self) -> str:
        return f"invoice {self.position} of proposal {self.proposal_id} ({self.state})"
