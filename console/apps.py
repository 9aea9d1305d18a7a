from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The support console: business page, search, incidents, bulk retry, retention jobs."""

    name = "console"
    verbose_name = "Support console"

    def ready(self) -> None:
        from django.apps import apps
        from django.db.models.signals import post_migrate

        from common.admin_tools import register_support_page
        from console.links import business_support_url, request_timeline_url
        from console.schedules import ensure_schedules

        # The apps' admins link a business and a request id to these pages (without knowing them).
        register_support_page("business", business_support_url)
        register_support_page("request", request_timeline_url)

        # This app has no models, so post_migrate never names it: hook the Schedule's own app.
        post_migrate.connect(
            ensure_schedules,
            sender=apps.get_app_config("django_q"),
            dispatch_uid="console_schedules",
        )
