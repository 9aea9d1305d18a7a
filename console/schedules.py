"""The console's django-q2 schedules (retention: small batches, often)."""

from typing import Any

from common.schedules import ensure_schedules as _ensure

# name → (task, minutes between runs)
SCHEDULES = {"console: retention": ("console.tasks.prune_history", 60)}


def ensure_schedules(using: str = "default", **kwargs: Any) -> int:
    return _ensure(SCHEDULES, using=using)
