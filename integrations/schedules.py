"""The integration's django-q2 schedules."""

from typing import Any

from django.db import connections

from common.schedules import ensure_schedules as _ensure

# name → (task, minutes between runs)
SCHEDULES = {
    "integrations: purge uninstalled": ("integrations.tasks.purge_uninstalled", 24 * 60),
}

# Replaced by "outbox: sweep" (common/outbox/schedules.py), which sweeps every kind.
RETIRED = ("integrations: wix sweep",)


def ensure_schedules(using: str = "default", **kwargs: Any) -> int:
    from django_q.models import Schedule

    changed = _ensure(SCHEDULES, using=using)
    if Schedule._meta.db_table in connections[using].introspection.table_names():
        changed += Schedule.objects.using(using).filter(name__in=RETIRED).delete()[0]
    return changed
