"""django-q2 schedules declared by each app and created idempotently after migrate.

A post_migrate hook rather than a data migration: the rows survive a flush (tests) and a
changed interval is corrected in place, leaving the next run time alone.
"""

from datetime import timedelta

import structlog
from django.utils import timezone

log = structlog.get_logger(__name__)


def ensure_schedules(schedules: dict[str, tuple], *, using: str = "default") -> int:
    """Create or correct ``{name: (task, minutes between runs[, seconds before the first
    run])}``; return how many changed. The offset only applies when the row is created: two
    schedules of one task a minute apart, one 30 s later, run it every half minute."""
    from django.db import connections
    from django_q.models import Schedule

    if Schedule._meta.db_table not in connections[using].introspection.table_names():
        return 0
    changed = 0
    for name, (func, minutes, *offset) in schedules.items():
        wanted = {
            "func": func,
            "schedule_type": Schedule.MINUTES,
            "minutes": minutes,
            "repeats": -1,
        }
        schedule = Schedule.objects.using(using).filter(name=name).order_by("pk").first()
        if schedule is None:
            first = timezone.now() + timedelta(seconds=offset[0] if offset else 0)
            Schedule.objects.using(using).create(name=name, next_run=first, **wanted)
            changed += 1
        elif any(getattr(schedule, key) != value for key, value in wanted.items()):
            for key, value in wanted.items():
                setattr(schedule, key, value)
            schedule.save(update_fields=list(wanted))
            changed += 1
    if changed:
        log.info("schedules_ensured", changed=changed, names=sorted(schedules))
    return changed
