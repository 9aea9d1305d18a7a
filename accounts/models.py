import hashlib
from typing import ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils.timezone import now


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: object) -> "User":
        if not email:
            raise ValueError("Users need an email address")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> "User":
        return self.get(email__iexact=username)


def is_reachable(email: str) -> bool:
    """Whether mail to ``email`` can arrive: not one made up for an account without one (SSO
    users get an address under ``.invalid``, RFC 2606's never-real domain), nor empty."""
    return bool(email) and not email.lower().endswith(".invalid")


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in: business staff (dashboard) or support staff (admin)."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    is_staff = models.BooleanField(default=False, help_text="Can sign in to the admin.")
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.email

    @property
    def reachable_email(self) -> str:
        """The user's address, or "" for one made up (``is_reachable``): never shown to anyone."""
        return self.email if is_reachable(self.email) else ""

    def get_full_name(self) -> str:
        return self.full_name or self.reachable_email or "Wix user"

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.get_full_name()


class Business(models.Model):
    """A tenant: one installation (app instance) of the app on one Wix site."""

    class Plan(models.TextChoices):
        FREE = "free", "Free"
        PAID = "paid", "Paid"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        UNINSTALLED = "uninstalled", "Uninstalled"

    instance_id = models.CharField(
        max_length=64, unique=True, help_text="Wix app instance id; stable across reinstalls."
    )
    site_name = models.CharField(max_length=200, blank=True)
    site_url = models.URLField(max_length=500, blank=True)
    owner_email = models.EmailField(blank=True)
    locale = models.CharField(max_length=16, default="en")
    currency = models.CharField(max_length=3, default="USD")
    timezone = models.CharField(max_length=64, default="UTC")
    # Chosen in Settings: the site-details refresh from Wix then leaves the value alone.
    locale_chosen = models.BooleanField(
        default=False, db_default=False, help_text="The owner chose the locale in Settings."
    )
    timezone_chosen = models.BooleanField(
        default=False, db_default=False, help_text="The owner chose the time zone in Settings."
    )
    plan = models.CharField(max_length=16, choices=Plan.choices, default=Plan.FREE)
    plan_product_id = models.CharField(
        max_length=100, blank=True, help_text="Wix vendor product id of the paid plan."
    )
    # When the plan last changed at Wix: older (reordered) billing events never overwrite it.
    plan_changed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    installed_at = models.DateTimeField(default=now)
    uninstalled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "businesses"
        indexes = [
            models.Index(fields=["status", "plan"]),
            models.Index(Lower("owner_email"), name="business_owner_email_ci"),
            models.Index(fields=["site_url"]),
            # Support search: a prefix of the site name or URL, case-insensitively.
            models.Index(Lower("site_name"), name="business_site_name_ci"),
            models.Index(Lower("site_url"), name="business_site_url_ci"),
            # The retention purge: what is due, oldest removal first.
            models.Index(
                fields=["uninstalled_at"],
                condition=models.Q(status="uninstalled"),
                name="business_uninstalled_due",
            ),
        ]

    def __str__(self) -> str:
        return self.site_name or self.instance_id

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Membership(models.Model):
    """A user's role in a business."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "business"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.business} ({self.role})"


class ApiKeyQuerySet(models.QuerySet):
    def active(self) -> "ApiKeyQuerySet":
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """A per-business API key; only its SHA-256 is stored (keys are 256-bit random)."""

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, db_index=True, help_text="Shown to recognise a key.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(raw_key: str) -> str:
        return hashlib.sha256(raw_key.encode()).hexdigest()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class StaffAction(models.Model):
    """One support action in the admin, with who ran it, on what, and how it ended (audit log)."""

    class Outcome(models.TextChoices):
        OK = "ok", "Done"
        REFUSED = "refused", "Refused"
        ERROR = "error", "Error"

    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="staff_actions"
    )
    # Kept as text too: the audit trail outlives a deleted staff account.
    actor_email = models.EmailField(blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.ForeignKey(
        "contenttypes.ContentType", null=True, blank=True, on_delete=models.SET_NULL
    )
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    business = models.ForeignKey(
        Business, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    message = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=128, blank=True, db_index=True)
    created_at = models.DateTimeField(default=now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["business", "-created_at"]),
            models.Index(fields=["target_type", "target_id"]),
            models.Index(Lower("actor_email"), name="staff_action_actor_ci"),
        ]
        permissions = [("run_support_actions", "Can run support actions")]

    def __str__(self) -> str:
        return f"{self.action} on {self.target_repr or '-'}: {self.outcome}"
