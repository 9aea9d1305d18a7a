"""The django-q2 schedules of the delivery pipeline (and API housekeeping)."""

from typing import Any

from common.schedules import ensure_schedules as _ensure

# name → (task, minutes between runs)
SCHEDULES = {
    "deliveries: sweep": ("proposals.delivery.tasks.sweep_deliveries", 1),
    "proposals: expire": ("proposals.delivery.tasks.expire_proposals", 10),
    "proposals: reminders": ("proposals.delivery.tasks.send_reminders", 15),
    "api: prune idempotency keys": ("proposals.api.tasks.prune_idempotency_keys", 60),
}


def ensure_schedules(using: str = "default", **kwargs: Any) -> int:
    return _ensure(SCHEDULES, using=using)
