"""Webhook bodies for the tests: where Wix posts them, and signed as Wix signs them."""

import json

from integrations.wix.standin.webhooks import sign_webhook, webhook_claims

URL = "/integrations/wix/webhooks/"
INSTANCE_ID = "1a2b3c4d-0000-4000-8000-00000000abcd"


def signed(event_type: str = "AppInstalled", instance_id: str = INSTANCE_ID, **kwargs) -> str:
    return sign_webhook(webhook_claims(event_type=event_type, instance_id=instance_id, **kwargs))


def _signed_envelope(**envelope_overrides) -> str:
    claims = webhook_claims(event_type="AppInstalled", instance_id=INSTANCE_ID)
    envelope = json.loads(claims["data"]) | envelope_overrides
    return sign_webhook({**claims, "data": json.dumps(envelope)})
