"""Build Wix-shaped webhooks signed with the DEV-ONLY key pair in ``keys/`` (tests, demos)."""

import json
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

KEYS = Path(__file__).resolve().parent / "keys"
DEV_PRIVATE_KEY = (KEYS / "DEV_ONLY_webhook_private.pem").read_text()
DEV_PUBLIC_KEY = (KEYS / "DEV_ONLY_webhook_public.pem").read_text()


def webhook_claims(
    *,
    event_type: str,
    instance_id: str,
    data: dict | None = None,
    event_id: str | None = None,
    issued_at: int | None = None,
    expires_in: int = 3600,
) -> dict:
    """Claims as Wix sends them: ``data`` is a JSON string whose own ``data`` is one too.

    A standardised event (a dotted type such as ``wix.contacts.v4.contact_created``, or any
    type given an ``event_id``) carries its event id in that inner data, beside ``entityFqdn``
    and ``slug``, as Wix does; a legacy one (``AppInstalled`` …) carries no event id at all.
    """
    now = int(time.time()) if issued_at is None else issued_at
    payload = dict(data or {})
    if event_id is not None or "." in event_type:
        entity, _, slug = event_type.rpartition("_")
        payload = {
            "id": event_id or str(uuid.uuid4()),
            "entityFqdn": entity or event_type,
            "slug": slug if entity else "event",
            **payload,
        }
    envelope = {
        "eventType": event_type,
        "instanceId": instance_id,
        "data": json.dumps(payload),
        "identity": json.dumps({"identityType": "APP"}),
    }
    return {"data": json.dumps(envelope), "iat": now, "exp": now + expires_in}


def sign_webhook(
    claims: dict, *, private_key: str | RSAPrivateKey = DEV_PRIVATE_KEY, algorithm="RS256"
) -> str:
    return jwt.encode(claims, private_key, algorithm=algorithm)
