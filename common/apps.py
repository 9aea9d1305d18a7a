from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "common"
    verbose_name = "Common plumbing"

    def ready(self) -> None:
        from common import task_context  # noqa: F401  (connects the django-q2 signals)
