"""Run the local Wix stand-in (development and tests only)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.management.commands.seed_demo import DEMO_EMAIL, DEMO_INSTANCE_ID
from integrations.wix.standin.server import make_server


class Command(BaseCommand):
    help = "Run the local Wix stand-in (token endpoint, APIs, switchable faults) on a port."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--verbose", action="store_true", help="Log every request.")

    def handle(self, *args, host: str, port: int, verbose: bool, **options) -> None:
        if settings.PRODUCTION:
            raise CommandError("The Wix stand-in is for development and tests only.")
        server = make_server(
            host=host,
            port=port,
            app_id=settings.WIX_APP_ID,
            app_secret=settings.WIX_APP_SECRET,
            verbose=verbose,
        )
        # The demo business of `seed_demo` has the same details at the stand-in.
        server.state.instance(DEMO_INSTANCE_ID).update(
            site_name="Demo Studio",
            site_url="https://demo-studio.example.com",
            owner_email=DEMO_EMAIL,
            timezone="Europe/London",
        )
        self.stdout.write(f"Wix stand-in listening on {server.url} (Ctrl-C stops it)")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
