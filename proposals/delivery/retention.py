"""Retention of delivery attempts: sent ones go after the shorter age, failures after theirs.

An attempt in progress is never deleted. Run by the console's scheduled retention job.
"""

from datetime import datetime

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from common.retention import ago, delete_in_batches
from proposals.models import DeliveryAttempt

_FAILED_ATTEMPTS = (
    DeliveryAttempt.Outcome.TRANSIENT_FAILURE,
    DeliveryAttempt.Outcome.PERMANENT_FAILURE,
    DeliveryAttempt.Outcome.INTERRUPTED,
)


def delivery_attempts_rules(now=None) -> list[tuple[Q, str]]:
    """One rule per outcome, so each is a range of the ``outcome, -started_at`` index."""
    now = now or timezone.now()
    sent = ago(settings.RETENTION_DELIVERY_ATTEMPTS_DAYS, now)
    failed = ago(settings.RETENTION_FAILED_DELIVERY_ATTEMPTS_DAYS, now)
    return [(Q(outcome=DeliveryAttempt.Outcome.SENT, started_at__lt=sent), "started_at")] + [
        (Q(outcome=outcome, started_at__lt=failed), "started_at") for outcome in _FAILED_ATTEMPTS
    ]


def delivery_attempts_prune(*, now: datetime) -> int:
    """Delete the attempts past their retention (a bounded number of batches); how many."""
    return delete_in_batches(DeliveryAttempt, delivery_attempts_rules(now))
