"""Verify the signed ``instance`` parameter Wix adds to the dashboard URL.

``instance`` is ``signature.data``: ``data`` is base64url (no padding) JSON, ``signature`` the
base64url HMAC-SHA256 of the ``data`` string keyed with the app secret.
"""

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils.dateparse import parse_datetime

from integrations.wix.ids import is_wix_id

_B64URL = re.compile(r"^[A-Za-z0-9_-]+\Z")
MAX_LENGTH = 4096
# Wix's clock may run slightly ahead of ours.
CLOCK_SKEW = timedelta(seconds=60)


class InstanceRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class WixInstance:
    instance_id: str
    wix_user_id: str
    # ``permissions`` is OWNER: the site's owner, or a collaborator Wix gives the owner's
    # permissions (a co-owner). Wix tells the two apart only by ``siteOwnerId``.
    is_owner: bool
    signed_at: datetime
    site_owner_id: str = ""

    @property
    def is_site_owner(self) -> bool:
        """The person who owns the site, not a co-owner: Wix's ``uid`` is its ``siteOwnerId``
        (Wix: "the uid will not match the siteOwnerId if the user is a contributor")."""
        return self.is_owner and bool(self.site_owner_id) and self.wix_user_id == self.site_owner_id


def _b64url_decode(value: str) -> bytes:
    if not _B64URL.match(value):
        raise InstanceRefused("malformed")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise InstanceRefused("malformed") from None


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def sign_instance(payload: dict, *, secret: str) -> str:
    """What Wix does; used by the stand-in and the tests."""
    data = b64url_encode(json.dumps(payload).encode())
    digest = hmac.new(secret.encode(), data.encode("ascii"), hashlib.sha256).digest()
    return f"{b64url_encode(digest)}.{data}"


def dashboard_instance(
    instance_id: str,
    *,
    uid: str,
    secret: str,
    app_id: str,
    owner: bool = True,
    site_owner_id: str = "",
) -> str:
    """The ``instance`` value Wix adds when a site's owner (or a collaborator) opens the app.

    ``siteOwnerId`` is ``uid`` for the owner; a collaborator's names someone else."""
    payload = {
        "instanceId": instance_id,
        "appDefId": app_id,
        "signDate": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "uid": uid,
        "permissions": "OWNER" if owner else "",
        "siteOwnerId": site_owner_id or (uid if owner else "00000000-0000-4000-8000-0000000000ff"),
    }
    return sign_instance(payload, secret=secret)


def verify_instance(
    value: str | None, *, secret: str, max_age_seconds: int, now: datetime | None = None
) -> WixInstance:
    if not value:
        raise InstanceRefused("missing")
    if len(value) > MAX_LENGTH:
        raise InstanceRefused("too_long")
    signature, dot, data = value.partition(".")
    # Both halves are base64url text; anything else is refused before it is hashed.
    if not dot or not _B64URL.match(signature) or not _B64URL.match(data):
        raise InstanceRefused("malformed")
    given = _b64url_decode(signature)
    expected = hmac.new(secret.encode(), data.encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(given, expected):
        raise InstanceRefused("bad_signature")
    try:
        payload = json.loads(_b64url_decode(data))
    except (ValueError, RecursionError):  # RecursionError: signed JSON nested too deep
        raise InstanceRefused("malformed") from None
    if not isinstance(payload, dict):
        raise InstanceRefused("malformed")
    signed_at = _sign_date(payload.get("signDate"))
    now = now or datetime.now(UTC)
    if signed_at > now + CLOCK_SKEW or now - signed_at > timedelta(seconds=max_age_seconds):
        raise InstanceRefused("stale")
    instance_id = payload.get("instanceId")
    if not is_wix_id(instance_id):
        raise InstanceRefused("missing_instance_id")
    is_owner = str(payload.get("permissions") or "").upper() == "OWNER"
    site_owner_id = payload.get("siteOwnerId")
    site_owner_id = site_owner_id if is_wix_id(site_owner_id) else ""
    user_id = payload.get("uid") or (site_owner_id if is_owner else None)
    if not is_wix_id(user_id):
        raise InstanceRefused("missing_user")
    return WixInstance(
        instance_id=instance_id,
        wix_user_id=user_id,
        is_owner=is_owner,
        signed_at=signed_at,
        site_owner_id=site_owner_id,
    )


def _sign_date(value: object) -> datetime:
    """The aware time the instance was signed; refused when missing or impossible."""
    if value in (None, ""):
        raise InstanceRefused("missing_sign_date")
    if not isinstance(value, str) or len(value) > 64:
        raise InstanceRefused("bad_sign_date")
    try:
        signed_at = parse_datetime(value.replace("Z", "+00:00"))
    except ValueError:  # well formed but impossible: month 13, hour 25, an offset of 99 h
        raise InstanceRefused("bad_sign_date") from None
    if signed_at is None:
        raise InstanceRefused("bad_sign_date")
    if signed_at.tzinfo is None:
        signed_at = signed_at.replace(tzinfo=UTC)
    try:
        return signed_at.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 pushed past the calendar by its offset
        raise InstanceRefused("bad_sign_date") from None
