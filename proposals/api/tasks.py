"""Scheduled upkeep of the API (django-q2 task path: ``proposals.api.tasks.…``)."""

from proposals.api.idempotency import idempotency_keys_prune


def prune_idempotency_keys() -> int:
    """Hourly: forget Idempotency-Key records older than IDEMPOTENCY_KEY_TTL_HOURS."""
    return idempotency_keys_prune()
