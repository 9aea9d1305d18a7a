"""Verify and unpack a Wix webhook: the whole body is an RS256 JWT signed with the app's key.

Claims: ``data`` is a JSON string ``{instanceId, eventType, data, identity}`` whose own ``data``
is a JSON string again. Only RS256 is accepted: ``none`` and HS256 signed with the public key as
the secret are refused by the algorithm list before any key is used.

De-duplication: Wix's standardised events (``wix.contacts.v4.contact_created`` …) carry their
event id in ``data.data.id`` beside ``entityFqdn`` and ``slug`` ("allows clients to ignore
duplicate events"); its legacy ones (``AppInstalled``, ``PaidPlanPurchased`` …) carry none, and
a redelivery of one is the same signed token, so those are known by the token's hash.
"""

import hashlib
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
from django.conf import settings
from django.utils.dateparse import parse_datetime

from integrations.wix.ids import is_wix_id

# Wix's clock and ours may disagree a little.
LEEWAY_SECONDS = 60
# Wix retries a delivery for about 47 hours; anything signed longer ago is a replay, refused
# even after its receipt (and so its dedup key) has been deleted by retention.
MAX_AGE_SECONDS = 72 * 3600
# Wix event names: "AppInstalled", "PaidPlanChanged", "wix.contacts.v4.contact_created" …
_EVENT_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,63}")


class WebhookRejected(Exception):
    """The body is not a webhook we can trust; ``reason`` is short and machine-readable."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class WixEvent:
    event_type: str
    instance_id: str
    data: dict
    claims: dict
    dedup_key: str
    occurred_at: datetime
    # AppInstalled on a site duplicated from another: the app's instance on the original site.
    origin_instance_id: str = ""


def _public_key():
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        return load_pem_public_key(settings.WIX_WEBHOOK_PUBLIC_KEY.encode())
    except ValueError:
        raise WebhookRejected("public_key_not_configured", status=503) from None


def verify(body: bytes) -> WixEvent:
    try:
        token = body.decode("ascii").strip()
    except UnicodeDecodeError:
        raise WebhookRejected("not_a_jwt") from None
    if token.count(".") != 2:
        raise WebhookRejected("not_a_jwt")
    try:
        claims = jwt.decode(
            token,
            _public_key(),
            algorithms=["RS256"],
            leeway=LEEWAY_SECONDS,
            options={"require": ["data", "iat"]},
        )
    except jwt.InvalidAlgorithmError:
        raise WebhookRejected("algorithm_not_allowed", status=401) from None
    except jwt.ExpiredSignatureError:
        raise WebhookRejected("expired", status=401) from None
    except jwt.ImmatureSignatureError:
        raise WebhookRejected("not_yet_valid", status=401) from None
    except jwt.InvalidSignatureError:
        raise WebhookRejected("bad_signature", status=401) from None
    except jwt.MissingRequiredClaimError as exc:
        raise WebhookRejected(f"missing_claim_{exc.claim}") from None
    except jwt.InvalidTokenError as exc:
        raise WebhookRejected(f"invalid_token_{exc.__class__.__name__}") from None
    except RecursionError:  # signed JSON nested past the parser's limit
        raise WebhookRejected("malformed_data_claim") from None
    # PyJWT has checked that ``iat`` is a number (and not in the future).
    if time.time() - float(claims["iat"]) > MAX_AGE_SECONDS:
        raise WebhookRejected("stale", status=401)
    return _unpack(claims, token)


def _json_object(value, reason: str) -> dict:
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value) if isinstance(value, str | bytes) else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise WebhookRejected(reason)
    return parsed


def _unpack(claims: dict, token: str) -> WixEvent:
    envelope = _json_object(claims.get("data"), "malformed_data_claim")
    event_type = envelope.get("eventType")
    instance_id = envelope.get("instanceId")
    if not isinstance(event_type, str) or not _EVENT_TYPE.fullmatch(event_type):
        raise WebhookRejected("missing_event_type")
    if not is_wix_id(instance_id):
        raise WebhookRejected("missing_instance_id")
    data = _json_object(envelope.get("data") or "{}", "malformed_event_data")
    metadata = envelope.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise WebhookRejected("malformed_metadata")
    if _holds_nul(envelope) or _holds_nul(data):
        # PostgreSQL's text and jsonb cannot hold U+0000: refused as input, not a failed write.
        raise WebhookRejected("nul_in_payload")
    event_id = standard_event_id(data)
    # A redelivery repeats the event id; without one, the exact same signed token.
    source = f"id:{event_id}" if event_id else f"body:{token}"
    dedup_key = hashlib.sha256(source.encode()).hexdigest()
    return WixEvent(
        event_type=event_type,
        instance_id=instance_id,
        data=data,
        claims={**claims, "data": envelope | {"data": data}},
        dedup_key=dedup_key,
        occurred_at=_occurred_at(data, claims),
        origin_instance_id=_origin_instance_id(event_type, data),
    )


def standard_event_id(data: dict) -> str | None:
    """The event id of a standardised Wix event (``data.data.id``), or None (a legacy event).

    Only with ``entityFqdn`` or ``slug`` beside it: an ``id`` in a legacy event's own data
    would name something else, and two events must never be taken for one.
    """
    event_id = data.get("id")
    if not isinstance(event_id, str) or not event_id.strip():
        return None
    if "entityFqdn" not in data and "slug" not in data:
        return None
    return event_id.strip()


def _origin_instance_id(event_type: str, data: dict) -> str:
    """AppInstalled's ``originInstanceId`` (a duplicated site), when it is a Wix id."""
    value = data.get("originInstanceId") if event_type == "AppInstalled" else None
    return value if is_wix_id(value) else ""


def _occurred_at(data: dict, claims: dict) -> datetime:
    """When the change happened at Wix: the event's own timestamp, else when it was signed."""
    for key in ("operationTimeStamp", "timeStamp", "timestamp", "eventTime"):
        value = data.get(key)
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.replace("Z", "+00:00"))
                if parsed is not None:
                    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
                    return parsed.astimezone(UTC)
            except (ValueError, OverflowError):  # month 13, hour 25, past the calendar
                raise WebhookRejected("bad_timestamp") from None
    try:
        return datetime.fromtimestamp(int(claims["iat"]), tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise WebhookRejected("bad_timestamp") from None


def _holds_nul(value: object) -> bool:
    """True when any string in ``value`` (keys included, at any depth) holds U+0000."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
