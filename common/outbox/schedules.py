"""The outbox's own schedule: one sweeper for every kind, created after migrate.

It runs every half minute (two rows a minute apart, one starting 30 s later: django-q2 counts
schedules in minutes). The sweep is a few indexed queries per kind, and it is what notices that
a failing dependency answers again (``drain._probe``): the backlog after an outage starts to
drain within about half a minute of recovery (the scheduler itself looks every 30 s).
"""

from typing import Any

from common.schedules import ensure_schedules as _ensure

SCHEDULES = {
    "outbox: sweep": ("common.outbox.tasks.sweep", 1),
    "outbox: sweep, half a minute later": ("common.outbox.tasks.sweep", 1, 30),
}


def ensure_schedules(sender: Any = None, using: str = "default", **kwargs: Any) -> int:
    # post_migrate fires once per app; django-q2's is the one after which its tables exist.
    if sender is not None and getattr(sender, "label", "") != "django_q":
        return 0
    return _ensure(SCHEDULES, using=using)
