"""Send a webhook signed like Wix's (with the DEV-ONLY test key) to the running app."""

import json
from datetime import UTC, datetime

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations.wix.standin.webhooks import sign_webhook, webhook_claims


class Command(BaseCommand):
    help = (
        "Sign a Wix webhook with the development key and POST it to the app, e.g. "
        "`wix_send_webhook AppInstalled --instance demo-instance-0001`."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("event_type", help="AppInstalled, AppRemoved, PaidPlanPurchased, …")
        parser.add_argument("--instance", required=True, help="Wix app instance id")
        parser.add_argument("--data", default="{}", help="JSON of the event's own data")
        parser.add_argument("--event-id", default=None)
        parser.add_argument(
            "--url", default=f"{settings.SITE_URL}/integrations/wix/webhooks/", help="target"
        )
        parser.add_argument("--timeout", type=float, default=10.0)

    def handle(self, *args, event_type, instance, data, event_id, url, timeout, **options):
        if settings.PRODUCTION:
            raise CommandError("Signing with the development key is refused in production.")
        try:
            payload = json.loads(data)
        except ValueError as exc:
            raise CommandError(f"--data is not JSON: {exc}") from None
        if event_type.startswith(("Plan", "PaidPlan")):
            payload.setdefault("operationTimeStamp", datetime.now(UTC).isoformat())
        token = sign_webhook(
            webhook_claims(
                event_type=event_type, instance_id=instance, data=payload, event_id=event_id
            )
        )
        try:
            response = httpx.post(
                url, content=token, headers={"Content-Type": "text/plain"}, timeout=timeout
            )
        except httpx.HTTPError as exc:
            raise CommandError(f"Could not deliver to {url}: {exc.__class__.__name__}") from None
        self.stdout.write(f"{response.status_code} {response.text[:300]}")
        if response.status_code != 200:
            raise CommandError("The app did not accept the webhook")
