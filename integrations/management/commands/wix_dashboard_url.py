"""Print a dashboard URL signed like Wix's ``instance`` parameter (development only)."""

from datetime import UTC, datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations.wix.sso import sign_instance


class Command(BaseCommand):
    help = "Print /app/?instance=… signed with WIX_APP_SECRET, as Wix opens the dashboard."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--instance", required=True, help="Wix app instance id")
        parser.add_argument("--uid", default="00000000-0000-4000-8000-00000000d3m0")
        parser.add_argument("--collaborator", action="store_true", help="Not the site owner.")

    def handle(self, *args, instance, uid, collaborator, **options) -> None:
        if settings.PRODUCTION:
            raise CommandError("Refused in production: this signs with the real app secret.")
        payload = {
            "instanceId": instance,
            "appDefId": settings.WIX_APP_ID,
            "signDate": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "uid": uid,
            "permissions": "" if collaborator else "OWNER",
        }
        signed = sign_instance(payload, secret=settings.WIX_APP_SECRET)
        self.stdout.write(f"{settings.SITE_URL}/app/?instance={signed}")
