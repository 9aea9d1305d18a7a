"""Retention: delete old support records in bounded batches, successes before failures.

Each kind of record has two ages: successes (an attempt that sent, a call that answered 2xx, a
webhook processed or ignored) go after the shorter one, failures after their own, longer one.
Work in progress (an attempt in progress, a pending receipt) is never deleted. A run stops
after ``RETENTION_MAX_BATCHES`` batches per kind; the next run continues.
"""

from datetime import timedelta

import structlog
from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from integrations.models import IntegrationCall, WebhookReceipt
from proposals.models import DeliveryAttempt

log = structlog.get_logger(__name__)

_FAILED_ATTEMPTS = (
    DeliveryAttempt.Outcome.TRANSIENT_FAILURE,
    DeliveryAttempt.Outcome.PERMANENT_FAILURE,
    DeliveryAttempt.Outcome.INTERRUPTED,
)
_DONE_RECEIPTS = (WebhookReceipt.Status.PROCESSED, WebhookReceipt.Status.IGNORED)
_FAILED_RECEIPTS = (WebhookReceipt.Status.REJECTED, WebhookReceipt.Status.FAILED)


def _ago(days: int, now):
    return now - timedelta(days=days)


def _delete_in_batches(queryset: QuerySet, *, time_field: str, newest_cutoff) -> int:
    """Walk the table in primary-key order, deleting what ``queryset`` marks as expired.

    Rows are appended in time order, so the walk reads short primary-key ranges (no index on
    the time column needed) and stops at the first batch that is entirely younger than the
    newest cutoff. The filter decides what goes: a row out of time order is kept, never lost.
    """
    model, batch = queryset.model, settings.RETENTION_BATCH_SIZE
    last_pk, deleted = 0, 0
    for _ in range(settings.RETENTION_MAX_BATCHES):
        rows = list(
            model.objects.filter(pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", time_field)[:batch]
        )
        if not rows:
            break
        upper = rows[-1][0]
        _, per_model = queryset.filter(pk__gt=last_pk, pk__lte=upper).delete()
        deleted += per_model.get(model._meta.label, 0)
        last_pk = upper
        if len(rows) < batch or min(when for _, when in rows) >= newest_cutoff:
            break
    return deleted


def delivery_attempts_expired(now=None) -> QuerySet:
    now = now or timezone.now()
    return DeliveryAttempt.objects.filter(
        Q(
            outcome=DeliveryAttempt.Outcome.SENT,
            started_at__lt=_ago(settings.RETENTION_DELIVERY_ATTEMPTS_DAYS, now),
        )
        | Q(
            outcome__in=_FAILED_ATTEMPTS,
            started_at__lt=_ago(settings.RETENTION_FAILED_DELIVERY_ATTEMPTS_DAYS, now),
        )
    )


def integration_calls_expired(now=None) -> QuerySet:
    now = now or timezone.now()
    return IntegrationCall.objects.filter(
        Q(ok=True, created_at__lt=_ago(settings.RETENTION_WIX_CALLS_DAYS, now))
        | Q(ok=False, created_at__lt=_ago(settings.RETENTION_FAILED_WIX_CALLS_DAYS, now))
    )


def webhook_receipts_expired(now=None) -> QuerySet:
    now = now or timezone.now()
    return WebhookReceipt.objects.filter(
        Q(
            status__in=_DONE_RECEIPTS,
            last_received_at__lt=_ago(settings.RETENTION_WEBHOOK_RECEIPTS_DAYS, now),
        )
        | Q(
            status__in=_FAILED_RECEIPTS,
            last_received_at__lt=_ago(settings.RETENTION_FAILED_WEBHOOK_RECEIPTS_DAYS, now),
        )
    )


def prune_all(*, now=None) -> dict:
    now = now or timezone.now()
    result = {
        "delivery_attempts": _delete_in_batches(
            delivery_attempts_expired(now),
            time_field="started_at",
            newest_cutoff=_ago(
                min(
                    settings.RETENTION_DELIVERY_ATTEMPTS_DAYS,
                    settings.RETENTION_FAILED_DELIVERY_ATTEMPTS_DAYS,
                ),
                now,
            ),
        ),
        "integration_calls": _delete_in_batches(
            integration_calls_expired(now),
            time_field="created_at",
            newest_cutoff=_ago(
                min(settings.RETENTION_WIX_CALLS_DAYS, settings.RETENTION_FAILED_WIX_CALLS_DAYS),
                now,
            ),
        ),
        "webhook_receipts": _delete_in_batches(
            webhook_receipts_expired(now),
            time_field="last_received_at",
            newest_cutoff=_ago(
                min(
                    settings.RETENTION_WEBHOOK_RECEIPTS_DAYS,
                    settings.RETENTION_FAILED_WEBHOOK_RECEIPTS_DAYS,
                ),
                now,
            ),
        ),
    }
    log.info("retention_pruned", **result)
    return result
