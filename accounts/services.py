"""Writes for accounts: each operation owns its transaction."""

import secrets
import time
from datetime import timedelta

import structlog
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, Business, Membership, User

log = structlog.get_logger(__name__)

API_KEY_PREFIX = "prk_"
# last_used_at is informational; writing it on every request would turn reads into writes.
_LAST_USED_RESOLUTION = timedelta(minutes=1)
# A key (with its business) read within the last second is trusted without reading it again:
# a revocation reaches this process at once (api_key_revoke forgets it here) and every other
# worker within that second, and so does a change of the business (an uninstall). Only the
# SHA-256 is the cache's key; writes always read the key fresh (``fresh=True``).
KEY_CACHE_SECONDS = 1.0
KEY_CACHE_SIZE = 1024
_key_cache: dict[str, tuple[float, ApiKey]] = {}
_clock = time.monotonic  # the cache's clock (tests move it)


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
        _key_cache.pop(api_key.key_hash, None)
        log.info(
            "api_key_revoked",
            api_key_id=api_key.pk,
            business_id=api_key.business_id,
            acting_user_id=getattr(acting_user, "pk", None),
        )
    return api_key


def api_key_authenticate(*, raw_key: str, fresh: bool = True) -> ApiKey | None:
    """The active key for this raw value, with its business, or None.

    ``fresh=False`` (a read-only request) may answer from this process's one-second cache.
    """
    if not raw_key or not raw_key.startswith(API_KEY_PREFIX) or len(raw_key) > 200:
        return None
    key_hash = ApiKey.hash_key(raw_key)
    key = None
    if not fresh:
        cached = _key_cache.get(key_hash)
        if cached is not None and cached[0] > _clock():
            key = cached[1]
    if key is None:
        key = ApiKey.objects.active().select_related("business").filter(key_hash=key_hash).first()
        if key is None:
            _key_cache.pop(key_hash, None)
            return None
        if len(_key_cache) >= KEY_CACHE_SIZE:
            _key_cache.clear()
        _key_cache[key_hash] = (_clock() + KEY_CACHE_SECONDS, key)
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


def membership_role_change(*, membership: Membership, role: str) -> bool:
    """Give the membership ``role`` unless its role changed since it was read (the UPDATE is
    conditional on the role ``membership`` carries); ``membership`` gets ``role`` either way,
    as its caller decided. True when this call changed the row."""
    changed = Membership.objects.filter(pk=membership.pk, role=membership.role).update(role=role)
    membership.role = role
    return bool(changed)


def user_create(*, email: str, full_name: str = "") -> User:
    """A user without a password (it signs in some other way, e.g. Wix single sign-on)."""
    return User.objects.create_user(email=email, full_name=full_name)


def user_rename(*, user: User, full_name: str) -> None:
    User.objects.filter(pk=user.pk).update(full_name=full_name)
    user.full_name = full_name


def business_owner_choices_save(
    *,
    business: Business,
    currency: str | None = None,
    time_zone: str | None = None,
    locale: str | None = None,
) -> None:
    """Store what the owner chose in Settings, in one UPDATE of what changed. None keeps a
    field as it is. A time zone or locale chosen here is marked chosen, so the Wix refresh
    keeps it; ``locale=""`` lets the next refresh fill the locale from the site again. The
    values come validated (``proposals.services.settings_update``)."""
    changes: dict = {}
    if currency is not None and business.currency != currency:
        changes.update(currency=currency)
    if time_zone is not None and business.timezone != time_zone:
        changes.update(timezone=time_zone, timezone_chosen=True)
    if locale:
        changes.update(locale=locale, locale_chosen=True)
    elif locale == "":
        changes.update(locale_chosen=False)
    if changes:
        Business.objects.filter(pk=business.pk).update(**changes)
        for field, value in changes.items():
            setattr(business, field, value)
