"""Writes for accounts: each operation owns its transaction."""

import secrets
from datetime import timedelta

import structlog
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, Business, Membership, User

log = structlog.get_logger(__name__)

API_KEY_PREFIX = "prk_"
# last_used_at is informational; writing it on every request would turn reads into writes.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_key_create(
    *, business: Business, name: str, acting_user: User | None
) -> tuple[ApiKey, str]:
    """Create a key and return it with the raw value, which is never stored or shown again."""
    name = name.strip()
    if not name:
        raise ValueError("An API key needs a name")
    raw = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        business=business,
        name=name[:100],
        prefix=raw[: len(API_KEY_PREFIX) + 8],
        key_hash=ApiKey.hash_key(raw),
        created_by=acting_user,
    )
    log.info("api_key_created", api_key_id=key.pk, business_id=business.pk)
    return key, raw


def api_key_revoke(*, api_key: ApiKey, acting_user: User | None) -> ApiKey:
    if api_key.revoked_at is None:
        ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        api_key.refresh_from_db(fields=["revoked_at"])
        log.info("api_key_revoked", api_key_id=api_key.pk, business_id=api_key.business_id)
    return api_key


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The active key for this raw value, with its business, or None."""
    if not raw_key or not raw_key.startswith(API_KEY_PREFIX) or len(raw_key) > 200:
        return None
    key = (
        ApiKey.objects.active()
        .select_related("business")
        .filter(key_hash=ApiKey.hash_key(raw_key))
        .first()
    )
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > _LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


@transaction.atomic
def membership_ensure(*, user: User, business: Business, role: str) -> Membership:
    membership, created = Membership.objects.get_or_create(
        user=user, business=business, defaults={"role": role}
    )
    if created:
        log.info("membership_created", business_id=business.pk, user_id=user.pk, role=role)
    return membership
