from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower, Upper

from accounts.scoping import BusinessOwned
from proposals import rules


class Client(BusinessOwned):
    """A business's own client: the person a proposal is sent to."""

    name = models.CharField(max_length=rules.MAX_NAME)
    email = models.EmailField()
    company = models.CharField(max_length=rules.MAX_NAME, blank=True)
    wix_contact_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        indexes = [
            models.Index(fields=["business", "name"]),
            # The dashboard's client search: a case-insensitive prefix of the name.
            models.Index("business", Lower("name"), "id", name="client_business_name_ci"),
            models.Index("business", Lower("email"), name="client_business_email_ci"),
            # Support searches a client's email across businesses.
            models.Index(Lower("email"), name="client_email_ci"),
            # One business's clients, newest first (support finds them by instance id).
            models.Index(fields=["business", "-id"], name="client_business_id_idx"),
            # API proposal search: substrings of name, email, company within one business,
            # through trigrams (btree_gin puts the business in the same GIN index).
            # PostgreSQL only (pg_trgm, btree_gin); migration proposals 0009 skips it elsewhere.
            GinIndex(
                "business",
                OpClass(Upper("name"), name="gin_trgm_ops"),
                OpClass(Upper("email"), name="gin_trgm_ops"),
                OpClass(Upper("company"), name="gin_trgm_ops"),
                name="client_business_search_trgm",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.email else self.name


class ProposalTemplate(BusinessOwned):
    """Reusable starting content for new proposals (sections and items as JSON)."""

    name = models.CharField(max_length=rules.MAX_NAME)
    title = models.CharField(max_length=rules.MAX_NAME, blank=True)
    intro = models.TextField(blank=True)
    terms = models.TextField(blank=True)
    # [{"title": str, "items": [{"name", "description", "quantity", "unit_price",
    #   "discount_percent", "tax_rate", "optional"}]}]
    sections = models.JSONField(default=list, blank=True)
    # A payment schedule copied into the proposals started from it (proposals.schedule).
    payment_schedule = models.JSONField(default=list, db_default=[], blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["business", "name"])]

    def __str__(self) -> str:
        return self.name


class ProposalSettings(models.Model):
    """A business's proposal preferences: branding and reminder rules."""

    business = models.OneToOneField(
        "accounts.Business", on_delete=models.CASCADE, related_name="proposal_settings"
    )
    brand_name = models.CharField(max_length=rules.MAX_NAME, blank=True)
    brand_color = models.CharField(
        max_length=7,
        default="#116dff",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #116dff.")],
    )
    # 0 turns a rule off.
    remind_unopened_after_days = models.PositiveSmallIntegerField(default=3)
    remind_unanswered_after_days = models.PositiveSmallIntegerField(default=7)
    # A storage name (proposals.branding: checked and named on upload), "" without a logo.
    logo = models.CharField(max_length=200, blank=True, default="", db_default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "proposal settings"

    def __str__(self) -> str:
        return f"Settings of {self.business}"
