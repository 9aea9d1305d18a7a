from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import Schedule

from accounts.roles import SUPPORT_GROUP, ensure_support_group
from console import retention
from console.schedules import SCHEDULES, ensure_schedules
from integrations.models import IntegrationCall, WebhookReceipt
from proposals.models import DeliveryAttempt
from tests.support.factories import AttemptFactory, CallFactory, ReceiptFactory

pytestmark = pytest.mark.django_db


def _aged(model, obj, field: str, days: int) -> None:
    model.objects.filter(pk=obj.pk).update(**{field: timezone.now() - timedelta(days=days)})


def test_retention_prunes_old_successes_and_keeps_failures_within_their_own_retention(settings):
    settings.RETENTION_BATCH_SIZE = 2  # several batches
    old_sent = AttemptFactory.create_batch(5, outcome="sent")
    for attempt in old_sent:
        _aged(DeliveryAttempt, attempt, "started_at", 31)
    young_failure = AttemptFactory(outcome="transient_failure")
    _aged(DeliveryAttempt, young_failure, "started_at", 31)
    old_failure = AttemptFactory(outcome="permanent_failure")
    _aged(DeliveryAttempt, old_failure, "started_at", 181)
    in_progress = AttemptFactory(outcome="in_progress", finished_at=None)
    _aged(DeliveryAttempt, in_progress, "started_at", 400)
    recent_sent = AttemptFactory(outcome="sent")

    ok_call = CallFactory(ok=True, status=200, error="")
    _aged(IntegrationCall, ok_call, "created_at", 15)
    failed_call = CallFactory()
    _aged(IntegrationCall, failed_call, "created_at", 15)

    processed = ReceiptFactory(status="processed")
    _aged(WebhookReceipt, processed, "last_received_at", 31)
    rejected = ReceiptFactory(status="rejected")
    _aged(WebhookReceipt, rejected, "last_received_at", 31)
    pending = ReceiptFactory(status="pending")
    _aged(WebhookReceipt, pending, "last_received_at", 400)

    result = retention.prune_all()
    assert result == {"delivery_attempts": 6, "integration_calls": 1, "webhook_receipts": 1}
    assert set(DeliveryAttempt.objects.values_list("pk", flat=True)) == {
        young_failure.pk,
        in_progress.pk,
        recent_sent.pk,
    }
    assert list(IntegrationCall.objects.values_list("pk", flat=True)) == [failed_call.pk]
    assert set(WebhookReceipt.objects.values_list("pk", flat=True)) == {rejected.pk, pending.pk}
    assert retention.prune_all() == {
        "delivery_attempts": 0,
        "integration_calls": 0,
        "webhook_receipts": 0,
    }


def test_a_run_stops_after_its_batch_budget(settings):
    settings.RETENTION_BATCH_SIZE = 2
    settings.RETENTION_MAX_BATCHES = 2
    for attempt in AttemptFactory.create_batch(7, outcome="sent"):
        _aged(DeliveryAttempt, attempt, "started_at", 60)
    assert retention.prune_all()["delivery_attempts"] == 4
    assert retention.prune_all()["delivery_attempts"] == 3


def test_the_retention_schedule_is_created_once_and_corrected():
    assert set(SCHEDULES) <= set(Schedule.objects.values_list("name", flat=True))
    assert ensure_schedules() == 0
    Schedule.objects.filter(name="console: retention").update(schedule_type=Schedule.DAILY)
    assert ensure_schedules() == 1
    assert Schedule.objects.filter(name="console: retention").count() == 1


def test_the_support_group_views_everything_runs_actions_and_changes_nothing():
    # Granted by the post_migrate hook when the test database was migrated.
    migrated = set(
        Group.objects.get(name=SUPPORT_GROUP).permissions.values_list("codename", flat=True)
    )
    assert {"view_proposal", "view_webhookreceipt", "run_support_actions"} <= migrated
    group = ensure_support_group()
    codenames = set(group.permissions.values_list("codename", flat=True))
    assert {
        "view_proposal",
        "view_delivery",
        "view_webhookreceipt",
        "view_staffaction",
    } <= codenames
    assert "run_support_actions" in codenames
    assert not {c for c in codenames if c.startswith(("change_", "add_", "delete_"))}
    assert Group.objects.filter(name=SUPPORT_GROUP).count() == 1
    ensure_support_group()  # idempotent
    assert group.permissions.count() == len(codenames)


def test_support_staff_are_not_superusers(support_user):
    assert not support_user.is_superuser
    assert support_user.has_perm("accounts.run_support_actions")
    assert not support_user.has_perm("proposals.change_proposal")
    assert not support_user.has_perm("accounts.change_user")


@pytest.mark.parametrize("count", [5, 50])
def test_retention_issues_the_same_queries_for_5_and_50_expired_rows(
    count, settings, django_assert_num_queries
):
    settings.RETENTION_BATCH_SIZE = 100  # one batch per rule

    def expired(n: int) -> None:
        for attempt in AttemptFactory.create_batch(n, outcome="sent"):
            _aged(DeliveryAttempt, attempt, "started_at", 31)
        IntegrationCall.objects.filter(
            pk__in=[c.pk for c in CallFactory.create_batch(n, ok=True, status=200, error="")]
        ).update(created_at=timezone.now() - timedelta(days=15))

    expired(5)
    with CaptureQueriesContext(connection) as five:
        assert retention.prune_all()["delivery_attempts"] == 5
    expired(count)
    with django_assert_num_queries(len(five.captured_queries)):
        result = retention.prune_all()
    assert result == {"delivery_attempts": count, "integration_calls": count, "webhook_receipts": 0}
