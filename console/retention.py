"""Retention: delete old support records in bounded batches, successes before failures.

Each kind of record has two ages: successes (an attempt that sent, a call that answered 2xx, a
webhook processed or ignored) go after the shorter one, failures after their own, longer one.
Work in progress (an attempt in progress, a pending receipt) is never deleted. A run stops
after ``RETENTION_MAX_BATCHES`` batches per kind; the next run continues.
"""

from datetime import timedelta

import structlog
from django.conf import settings
from django.db.models import Q
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


def _delete_in_batches(model, rules: list[tuple[Q, str]]) -> int:
    """Delete what each ``(filter, time field)`` rule marks as expired, oldest first.

    Each batch is two short queries, both on an index whose leading column the rule names
    (the time column, or the outcome then time): the ids of the ``RETENTION_BATCH_SIZE``
    oldest matching rows, then one DELETE of those ids. Rules run in order (successes first)
    and share the kind's budget of ``RETENTION_MAX_BATCHES`` batches; the next run continues.
    Nothing is re-read: kept rows (failures within their longer retention, work in progress)
    never sit in front of the expired ones.
    """
    size, budget, deleted = settings.RETENTION_BATCH_SIZE, settings.RETENTION_MAX_BATCHES, 0
    for condition, time_field in rules:
        while budget > 0:
            budget -= 1
            ids = list(
                model.objects.filter(condition)
                .order_by(time_field)
                .values_list("pk", flat=True)[:size]
            )
            if ids:
                # No cascades or signals on these models: Django issues one DELETE … IN (ids).
                _, per_model = model.objects.filter(pk__in=ids).delete()
                deleted += per_model.get(model._meta.label, 0)
            if len(ids) < size:
                break
    return deleted


def delivery_attempts_rules(now=None) -> list[tuple[Q, str]]:
    """One rule per outcome, so each is a range of the ``outcome, -started_at`` index."""
    now = now or timezone.now()
    sent = _ago(settings.RETENTION_DELIVERY_ATTEMPTS_DAYS, now)
    failed = _ago(settings.RETENTION_FAILED_DELIVERY_ATTEMPTS_DAYS, now)
    return [(Q(outcome=DeliveryAttempt.Outcome.SENT, started_at__lt=sent), "started_at")] + [
        (Q(outcome=outcome, started_at__lt=failed), "started_at") for outcome in _FAILED_ATTEMPTS
    ]


def integration_calls_rules(now=None) -> list[tuple[Q, str]]:
    """Served by ``integ_call_created_idx`` (oldest first, the other outcome filtered out)."""
    now = now or timezone.now()
    return [
        (Q(ok=True, created_at__lt=_ago(settings.RETENTION_WIX_CALLS_DAYS, now)), "created_at"),
        (
            Q(ok=False, created_at__lt=_ago(settings.RETENTION_FAILED_WIX_CALLS_DAYS, now)),
            "created_at",
        ),
    ]


def webhook_receipts_rules(now=None) -> list[tuple[Q, str]]:
    """Served by ``webhook_receipt_last_idx`` (oldest first, kept statuses filtered out)."""
    now = now or timezone.now()
    done = _ago(settings.RETENTION_WEBHOOK_RECEIPTS_DAYS, now)
    failed = _ago(settings.RETENTION_FAILED_WEBHOOK_RECEIPTS_DAYS, now)
    return [
        (Q(status__in=_DONE_RECEIPTS, last_received_at__lt=done), "last_received_at"),
        (Q(status__in=_FAILED_RECEIPTS, last_received_at__lt=failed), "last_received_at"),
    ]


def prune_all(*, now=None) -> dict:
    now = now or timezone.now()
    result = {
        "delivery_attempts": _delete_in_batches(DeliveryAttempt, delivery_attempts_rules(now)),
        "integration_calls": _delete_in_batches(IntegrationCall, integration_calls_rules(now)),
        "webhook_receipts": _delete_in_batches(WebhookReceipt, webhook_receipts_rules(now)),
    }
    log.info("retention_pruned", **result)
    return result
