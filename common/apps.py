from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "common"
    verbose_name = "Common plumbing"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from common import task_context  # noqa: F401  (connects the django-q2 signals)
        from common.outbox.schedules import ensure_schedules

        # common has no migrations of its own: hook the sweeper's schedule to django-q2's.
        post_migrate.connect(ensure_schedules, dispatch_uid="outbox_schedules")
