"""The integration's django-q2 schedules, created idempotently after migrate."""

from typing import Any

import structlog

log = structlog.get_logger(__name__)

# name → (task, minutes between runs)
SCHEDULES = {
    "integrations: wix sweep": ("integrations.tasks.sweep", 1),
    "integrations: purge uninstalled": ("integrations.tasks.purge_uninstalled", 24 * 60),
}


def ensure_schedules(using: str = "default", **kwargs: Any) -> int:
    """Create or correct the schedules; leaves their next run alone. Returns how many changed."""
    from django.db import connections
    from django_q.models import Schedule

    if Schedule._meta.db_table not in connections[using].introspection.table_names():
        return 0
    changed = 0
    for name, (func, minutes) in SCHEDULES.items():
        wanted = {
            "func": func,
            "schedule_type": Schedule.MINUTES,
            "minutes": minutes,
            "repeats": -1,
        }
        schedule = Schedule.objects.using(using).filter(name=name).order_by("pk").first()
        if schedule is None:
            Schedule.objects.using(using).create(name=name, **wanted)
            changed += 1
        elif any(getattr(schedule, key) != value for key, value in wanted.items()):
            for key, value in wanted.items():
                setattr(schedule, key, value)
            schedule.save(update_fields=list(wanted))
            changed += 1
    if changed:
        log.info("integrations_schedules_ensured", changed=changed)
    return changed
