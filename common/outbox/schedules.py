"""The outbox's own schedule: one sweeper for every kind, created after migrate."""

from typing import Any

from common.schedules import ensure_schedules as _ensure

SCHEDULES = {"outbox: sweep": ("common.outbox.tasks.sweep", 1)}


def ensure_schedules(sender: Any = None, using: str = "default", **kwargs: Any) -> int:
    # post_migrate fires once per app; django-q2's is the one after which its tables exist.
    if sender is not None and getattr(sender, "label", "") != "django_q":
        return 0
    return _ensure(SCHEDULES, using=using)
