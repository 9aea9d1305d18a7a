"""Print a dashboard URL signed like Wix's ``instance`` parameter (development only)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations.wix.sso import dashboard_instance


class Command(BaseCommand):
    help = "Print /app/?instance=… signed with WIX_APP_SECRET, as Wix opens the dashboard."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--instance", required=True, help="Wix app instance id")
        parser.add_argument("--uid", default="00000000-0000-4000-8000-00000000d3m0")
        parser.add_argument("--collaborator", action="store_true", help="Not the site owner.")

    def handle(self, *args, instance, uid, collaborator, **options) -> None:
        if settings.PRODUCTION:
            raise CommandError("Refused in production: this signs with the real app secret.")
        signed = dashboard_instance(
            instance,
            uid=uid,
            secret=settings.WIX_APP_SECRET,
            app_id=settings.WIX_APP_ID,
            owner=not collaborator,
        )
        self.stdout.write(f"{settings.SITE_URL}/app/?instance={signed}")
