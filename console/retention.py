"""Retention: delete old support records in bounded batches, successes before failures.

Each kind of record has two ages: successes (an attempt that sent, a call that answered 2xx, a
webhook processed or ignored) go after the shorter one, failures after their own, longer one.
Work in progress (an attempt in progress, a pending receipt) is never deleted. A run stops
after ``RETENTION_MAX_BATCHES`` batches per kind; the next run continues. Each app deletes its
own records (``proposals.delivery.retention``, ``integrations.retention``); this runs them.
"""

import structlog
from django.utils import timezone

from integrations.retention import integration_calls_prune, webhook_receipts_prune
from proposals.delivery.retention import delivery_attempts_prune

log = structlog.get_logger(__name__)


def prune_all(*, now=None) -> dict:
    now = now or timezone.now()
    result = {
        "delivery_attempts": delivery_attempts_prune(now=now),
        "integration_calls": integration_calls_prune(now=now),
        "webhook_receipts": webhook_receipts_prune(now=now),
    }
    log.info("retention_pruned", **result)
    return result
