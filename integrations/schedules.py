"""The integration's django-q2 schedules."""

from typing import Any

from common.schedules import ensure_schedules as _ensure

# name → (task, minutes between runs)
SCHEDULES = {
    "integrations: wix sweep": ("integrations.tasks.sweep", 1),
    "integrations: purge uninstalled": ("integrations.tasks.purge_uninstalled", 24 * 60),
}


def ensure_schedules(using: str = "default", **kwargs: Any) -> int:
    return _ensure(SCHEDULES, using=using)
