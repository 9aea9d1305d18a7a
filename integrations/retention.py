"""Retention of the Wix records: calls made and webhooks received.

Successes (a call that answered 2xx, a webhook processed or ignored) go after the shorter
age, failures after their own, longer one; a pending receipt is never deleted. Run by the
console's scheduled retention job.
"""

from datetime import datetime

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from common.retention import ago, delete_in_batches
from integrations.models import IntegrationCall, WebhookReceipt

_DONE_RECEIPTS = (WebhookReceipt.Status.PROCESSED, WebhookReceipt.Status.IGNORED)
_FAILED_RECEIPTS = (WebhookReceipt.Status.REJECTED, WebhookReceipt.Status.FAILED)


def integration_calls_rules(now=None) -> list[tuple[Q, str]]:
    """Served by ``integ_call_created_idx`` (oldest first, the other outcome filtered out)."""
    now = now or timezone.now()
    return [
        (Q(ok=True, created_at__lt=ago(settings.RETENTION_WIX_CALLS_DAYS, now)), "created_at"),
        (
            Q(ok=False, created_at__lt=ago(settings.RETENTION_FAILED_WIX_CALLS_DAYS, now)),
            "created_at",
        ),
    ]


def webhook_receipts_rules(now=None) -> list[tuple[Q, str]]:
    """Served by ``webhook_receipt_last_idx`` (oldest first, kept statuses filtered out)."""
    now = now or timezone.now()
    done = ago(settings.RETENTION_WEBHOOK_RECEIPTS_DAYS, now)
    failed = ago(settings.RETENTION_FAILED_WEBHOOK_RECEIPTS_DAYS, now)
    return [
        (Q(status__in=_DONE_RECEIPTS, last_received_at__lt=done), "last_received_at"),
        (Q(status__in=_FAILED_RECEIPTS, last_received_at__lt=failed), "last_received_at"),
    ]


def integration_calls_prune(*, now: datetime) -> int:
    """Delete the Wix calls past their retention (a bounded number of batches); how many."""
    return delete_in_batches(IntegrationCall, integration_calls_rules(now))


def webhook_receipts_prune(*, now: datetime) -> int:
    """Delete the webhook receipts past their retention (bounded batches); how many."""
    return delete_in_batches(WebhookReceipt, webhook_receipts_rules(now))
