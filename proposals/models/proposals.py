from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower, Upper

from accounts.scoping import BusinessOwned
from proposals import rules


class ProposalSequence(models.Model):
    """The last proposal number a business used; locked row by row to number without races."""

    business = models.OneToOneField(
        "accounts.Business", on_delete=models.CASCADE, related_name="proposal_sequence"
    )
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.business_id}: {self.last_number}"


class ProposalStatus(models.TextChoices):
    """Where a proposal is in its life (``Proposal.Status``)."""

    DRAFT = "draft", "Draft"
    SENT = "sent", "Sent"
    VIEWED = "viewed", "Viewed"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    EXPIRED = "expired", "Expired"
    WITHDRAWN = "withdrawn", "Withdrawn"


# An open proposal: sent and not answered, expired or withdrawn; its client may still answer.
# Module-level so that the partial indexes below can name it too.
OPEN_STATUSES = (ProposalStatus.SENT, ProposalStatus.VIEWED)


class Proposal(BusinessOwned):
    """A quote for one client: the editable working copy plus its lifecycle state."""

    Status = ProposalStatus
    OPEN_STATUSES = OPEN_STATUSES

    number = models.PositiveIntegerField()
    title = models.CharField(max_length=rules.MAX_NAME)
    client = models.ForeignKey(
        "proposals.Client", on_delete=models.PROTECT, related_name="proposals"
    )
    currency = models.CharField(max_length=3)
    valid_until = models.DateField(null=True, blank=True)
    # The valid-until date of the version sent (what the client saw), which expiry follows;
    # ``valid_until`` is the working copy's, perhaps edited since. Null while a draft.
    # NULL by default in the database too (no db_default: on SQLite one would rebuild the table,
    # and with it the PostgreSQL-only trigram index).
    sent_valid_until = models.DateField(null=True, blank=True, editable=False, default=None)
    intro = models.TextField(blank=True, help_text="Sanitised HTML.")
    terms = models.TextField(blank=True, help_text="Sanitised HTML.")
    # The deposit and milestones as ``proposals.schedule.clean_schedule`` stores them.
    payment_schedule = models.JSONField(default=list, db_default=[], blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    # The version the client sees (the last one sent); null while a draft.
    current_version = models.ForeignKey(
        "proposals.ProposalVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    has_unsent_changes = models.BooleanField(default=False)
    # Bumped on every write; the API's ETag.
    revision = models.PositiveIntegerField(default=1)
    # Denormalised from the working copy so lists need no per-row totals query.
    total = models.DecimalField(max_digits=16, decimal_places=4, default=Decimal("0"))
    decline_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    viewed_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # When each reminder rule comes due for the current version (its sent time plus the
    # business's days); null once reminded, answered, withdrawn, expired or the rule is off.
    # The reminders job reads these through partial indexes: it never joins settings per row.
    remind_unopened_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    remind_unanswered_due_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["business", "number"], name="proposal_number_unique")
        ]
        indexes = [
            # A business's proposals newest first, all, by status or by client: the dashboard's
            # and the API's lists (keyset pages on created_at, id; the id makes the order total).
            models.Index(
                fields=["business", "-created_at", "-id"], name="proposal_business_recent_idx"
            ),
            models.Index(
                fields=["business", "status", "-created_at", "-id"],
                name="proposal_status_recent_idx",
            ),
            models.Index(
                fields=["business", "client", "-created_at", "-id"],
                name="proposal_client_recent_idx",
            ),
            models.Index(fields=["status", "valid_until"]),
            # The list's pipeline totals, read from the index alone: a business's open
            # proposals, and its acceptances by date (this month's).
            models.Index(
                fields=["business", "currency"],
                include=["total"],
                condition=models.Q(status__in=list(OPEN_STATUSES)),
                name="proposal_open_pipeline_idx",
            ),
            models.Index(
                fields=["business", "answered_at"],
                include=["currency", "total"],
                condition=models.Q(status="accepted"),
                name="proposal_accepted_pipeline_idx",
            ),
            # What the scheduled jobs take, in the order they take it: only due rows are indexed.
            models.Index(
                fields=["remind_unopened_due_at", "id"],
                condition=models.Q(remind_unopened_due_at__isnull=False),
                name="proposal_unopened_due_idx",
            ),
            models.Index(
                fields=["remind_unanswered_due_at", "id"],
                condition=models.Q(remind_unanswered_due_at__isnull=False),
                name="proposal_unanswered_due_idx",
            ),
            models.Index(
                fields=["sent_valid_until", "id"],
                condition=models.Q(status__in=list(OPEN_STATUSES), sent_valid_until__isnull=False),
                name="proposal_open_expiry_idx",
            ),
            # The support console: newest first across businesses, by status, by number.
            models.Index(fields=["-created_at", "-id"], name="proposal_created_idx"),
            models.Index(
                fields=["status", "-created_at", "-id"], name="proposal_status_created_idx"
            ),
            models.Index(fields=["number", "-created_at", "-id"], name="proposal_number_idx"),
            # API search: a title substring (icontains is UPPER(title) LIKE) through trigrams.
            # PostgreSQL only (pg_trgm); migration 0005 skips it elsewhere.
            GinIndex(OpClass(Upper("title"), name="gin_trgm_ops"), name="proposal_title_trgm"),
        ]

    def __str__(self) -> str:
        return f"{self.display_number} {self.title}"

    @property
    def display_number(self) -> str:
        return self.format_number(self.number)

    @staticmethod
    def format_number(number: int) -> str:
        """``P-0042``: how a proposal's number is shown (and searched for)."""
        return f"P-{number:04d}"

    @property
    def is_locked(self) -> bool:
        return self.status == self.Status.ACCEPTED

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class Section(models.Model):
    """A titled group of line items in a proposal's working copy."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="sections")
    title = models.CharField(max_length=rules.MAX_NAME, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.title or f"Section {self.position + 1}"


class LineItem(models.Model):
    """A priced line; optional lines count only when the client selects them."""

    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="items")
    name = models.CharField(max_length=rules.MAX_NAME)
    description = models.TextField(blank=True)
    quantity = models.DecimalField(
        max_digits=rules.QUANTITY_DIGITS[0],
        decimal_places=rules.QUANTITY_DIGITS[1],
        default=Decimal("1"),
        validators=[MinValueValidator(0)],
    )
    unit_price = models.DecimalField(
        max_digits=rules.UNIT_PRICE_DIGITS[0],
        decimal_places=rules.UNIT_PRICE_DIGITS[1],
        validators=[MinValueValidator(0)],
    )
    discount_percent = models.DecimalField(
        max_digits=rules.PERCENT_DIGITS[0],
        decimal_places=rules.PERCENT_DIGITS[1],
        default=Decimal("0"),
        validators=[MinValueValidator(0), MaxValueValidator(rules.MAX_PERCENT)],
    )
    tax_rate = models.DecimalField(
        max_digits=rules.PERCENT_DIGITS[0],
        decimal_places=rules.PERCENT_DIGITS[1],
        default=Decimal("0"),
        validators=[MinValueValidator(0), MaxValueValidator(rules.MAX_PERCENT)],
    )
    optional = models.BooleanField(default=False)
    selected = models.BooleanField(default=True, help_text="For optional items: preselected.")
    # The catalog item it was copied from (rules.LINE_SOURCES), "" when typed by hand.
    source = models.CharField(max_length=rules.MAX_SOURCE, blank=True, default="", db_default="")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.name


class ProposalVersion(models.Model):
    """The frozen content of a proposal as it was sent, with the client's link token."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="versions")
    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="+")
    number = models.PositiveIntegerField()
    # Everything the client page shows: title, client, currency, texts, sections, totals.
    snapshot = models.JSONField()
    content_hash = models.CharField(max_length=64)
    # 256-bit random, URL-safe; revoked on withdraw.
    token = models.CharField(max_length=64, unique=True)
    token_revoked_at = models.DateTimeField(null=True, blank=True)
    recipient_email = models.EmailField()
    message = models.TextField(blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_at = models.DateTimeField()
    reminded_unopened_at = models.DateTimeField(null=True, blank=True)
    reminded_unanswered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["proposal", "number"], name="version_number_unique")
        ]
        indexes = [
            # Support finds what was sent to an address.
            models.Index(Lower("recipient_email"), name="version_recipient_ci"),
            # One business's versions, newest first (support finds them by instance id).
            models.Index(fields=["business", "-id"], name="version_business_idx"),
            # The free plan's monthly counter: first sends of a business since a date.
            models.Index(
                fields=["business", "sent_at"],
                condition=models.Q(number=1),
                name="version_first_send_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.proposal_id} v{self.number}"

    def answer_state(self, *, proposal: Proposal, now: datetime) -> str:
        """Whether the client can still answer this version: ``"open"``, or why not.

        The one rule behind the client page (``selectors.public_page_state``) and the accept
        and decline services, so the page never offers what the service refuses. ``proposal``
        is this version's proposal as the caller holds it (the services' locked row) with its
        business: ``"unavailable"`` (app uninstalled, or not open for another reason),
        ``"withdrawn"``, ``"accepted"`` / ``"declined"`` (this version was answered),
        ``"superseded"`` (a newer version was sent, or answered), ``"expired"``.
        """
        Status = Proposal.Status
        if not proposal.business.is_active:
            return "unavailable"
        if self.token_revoked_at is not None or proposal.status == Status.WITHDRAWN:
            return "withdrawn"
        if proposal.current_version_id != self.pk:
            return "superseded"
        if proposal.status in (Status.ACCEPTED, Status.DECLINED):
            return proposal.status
        expiry = rules.expires_at(proposal.sent_valid_until, proposal.business.timezone)
        if proposal.status == Status.EXPIRED or (expiry is not None and expiry <= now):
            return "expired"
        return "open" if proposal.status in OPEN_STATUSES else "unavailable"


class ProposalView(models.Model):
    """One opening of the client page (the business's own preview is never recorded)."""

    version = models.ForeignKey(ProposalVersion, on_delete=models.CASCADE, related_name="views")
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="views")
    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="+")
    viewed_at = models.DateTimeField(auto_now_add=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [models.Index(fields=["proposal", "-viewed_at"])]

    def __str__(self) -> str:
        return f"{self.proposal_id} viewed {self.viewed_at:%Y-%m-%d %H:%M}"


class Acceptance(models.Model):
    """The client's signature: one per proposal, with the hash of exactly what was accepted."""

    proposal = models.OneToOneField(Proposal, on_delete=models.CASCADE, related_name="acceptance")
    version = models.ForeignKey(ProposalVersion, on_delete=models.PROTECT, related_name="+")
    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="+")
    signed_name = models.CharField(max_length=rules.MAX_NAME)
    email = models.EmailField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    accepted_at = models.DateTimeField()
    selected_item_keys = models.JSONField(default=list)
    total = models.DecimalField(max_digits=16, decimal_places=4)
    content_hash = models.CharField(max_length=64)
    # The version's schedule resolved for this total and day (``ResolvedPart.as_dict()``).
    payment_schedule = models.JSONField(default=list, db_default=[], blank=True)

    class Meta:
        # Support finds who signed with an address.
        indexes = [
            models.Index(Lower("email"), name="acceptance_email_ci"),
            # One business's acceptances, newest first (support finds them by instance id).
            models.Index(fields=["business", "-id"], name="acceptance_business_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.proposal_id} accepted by {self.signed_name}"
