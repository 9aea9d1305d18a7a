"""The delivery sweeper and schedules: lost enqueues and dead workers recovered, expired leases
taken back in bounded batches, the queue's age on /readyz, the settings that guard the lease."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from common.outbox.schedules import SCHEDULES as OUTBOX_SCHEDULES
from proposals.delivery.schedules import SCHEDULES, ensure_schedules
from proposals.delivery.selectors import delivery_queue_stats
from proposals.delivery.sending import delivery_execute
from proposals.models import Delivery, DeliveryAttempt
from tests.accounts.factories import BusinessFactory
from tests.proposals.delivery_queue import (
    proposal_delivery,
    queued_drains,
    run_queued_drains,
    sweep,
)


@pytest.mark.django_db
def test_a_lost_enqueue_is_sent_by_the_sweeper_exactly_once(
    django_capture_on_commit_callbacks, smtp_server
):
    with django_capture_on_commit_callbacks(execute=True):
        delivery = proposal_delivery()
    assert queued_drains() == ["delivery"]
    OrmQ.objects.all().delete()  # the broker lost it
    assert sweep() == {"recovered": 0, "drain": True}
    assert queued_drains() == ["delivery"]
    [drained] = run_queued_drains()
    assert drained["sent"] == 1
    assert sweep() == {"recovered": 0, "drain": False}
    assert len(smtp_server.to(delivery.recipient)) == 1


@pytest.mark.django_db
def test_the_sweeper_drains_retries_once_they_are_due(smtp_server, settings):
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 30.0
    settings.DELIVERY_BACKOFF_CAP_SECONDS = 30.0
    smtp_server.data_script = ["421 busy"]
    delivery = proposal_delivery()
    assert delivery_execute(delivery.pk) == "failed_retrying"
    delivery.refresh_from_db()
    OrmQ.objects.all().delete()
    assert sweep(now=delivery.next_attempt_at - timedelta(seconds=1))["drain"] is False
    assert sweep(now=delivery.next_attempt_at + timedelta(seconds=1))["drain"] is True
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    [drained] = run_queued_drains()
    assert drained["sent"] == 1


@pytest.mark.django_db
def test_the_sweeper_recovers_a_delivery_whose_worker_died(smtp_server, settings):
    delivery = proposal_delivery()
    now = timezone.now()
    # What a worker leaves behind when it is killed mid-send.
    Delivery.objects.filter(pk=delivery.pk).update(
        state=Delivery.State.SENDING, attempt_count=1, claimed_until=now + timedelta(seconds=30)
    )
    DeliveryAttempt.objects.create(delivery=delivery, number=1, started_at=now, worker="gone:1")
    assert sweep(now=now + timedelta(seconds=10)) == {"recovered": 0, "drain": False}
    assert delivery_execute(delivery.pk) == "skipped"  # the lease still holds
    # The lease runs out (the worker is gone).
    Delivery.objects.filter(pk=delivery.pk).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )
    assert sweep() == {"recovered": 1, "drain": True}
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.FAILED_RETRYING
    assert delivery.last_error == "worker lost while sending"
    [drained] = run_queued_drains()
    assert drained["sent"] == 1
    assert sweep() == {"recovered": 0, "drain": False}
    outcomes = list(delivery.attempts.order_by("number").values_list("outcome", flat=True))
    assert outcomes == [DeliveryAttempt.Outcome.INTERRUPTED, DeliveryAttempt.Outcome.SENT]
    assert len(smtp_server.received) == 1


@pytest.mark.django_db
def test_the_sweeper_takes_back_expired_leases_in_bounded_batches(settings):
    settings.DELIVERY_SWEEP_BATCH_SIZE = 2
    _lost_deliveries(3)
    assert sweep()["recovered"] == 2
    assert sweep()["recovered"] == 1
    assert sweep()["recovered"] == 0


@pytest.mark.django_db
def test_queue_stats_and_readyz_report_the_oldest_due_delivery(client, settings):
    settings.READYZ_REQUIRE_CLUSTER = False
    settings.READYZ_MAX_DELIVERY_AGE_SECONDS = 60
    delivery = proposal_delivery()
    stats = delivery_queue_stats()
    assert stats["depth"] == 1 and stats["oldest_pending_age_seconds"] < 60
    response = client.get("/readyz")
    assert response.json()["checks"]["deliveries"]["status"] == "ok"
    Delivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=120)
    )
    assert delivery_queue_stats(business=delivery.business)["oldest_pending_age_seconds"] >= 120
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["deliveries"]["status"] == "fail"


@pytest.mark.django_db
def test_schedules_exist_once_after_migrate():
    names = set(Schedule.objects.values_list("name", flat=True))
    assert set(SCHEDULES) | set(OUTBOX_SCHEDULES) <= names
    assert "deliveries: sweep" not in names  # the outbox sweeper replaced it
    assert ensure_schedules() == 0
    Schedule.objects.filter(name="proposals: expire").update(minutes=30)
    Schedule.objects.create(name="deliveries: sweep", func="proposals.delivery.tasks.gone")
    assert ensure_schedules() == 2
    assert Schedule.objects.filter(name__in=SCHEDULES).count() == len(SCHEDULES)
    assert Schedule.objects.get(name="proposals: expire").minutes == 10
    assert not Schedule.objects.filter(name="deliveries: sweep").exists()
    assert Schedule.objects.get(name="outbox: sweep").func == "common.outbox.tasks.sweep"


def test_a_lease_shorter_than_the_task_timeout_refuses_to_start():
    from tests.common.test_settings_env import load_settings

    result = load_settings({"Q_TIMEOUT": "60", "DELIVERY_LEASE_SECONDS": "30"})
    assert result.returncode != 0
    assert "DELIVERY_LEASE_SECONDS must be greater than Q_TIMEOUT" in result.stderr
    assert load_settings({"Q_TIMEOUT": "60", "EMAIL_TIMEOUT": "100"}).returncode == 0


def _lost_deliveries(count: int) -> None:
    """``count`` rows whose worker died mid-send and ``count`` whose enqueue was lost."""
    business = BusinessFactory.create()
    past = timezone.now() - timedelta(hours=1)
    rows = Delivery.objects.bulk_create(
        Delivery(
            business=business,
            kind=Delivery.Kind.OWNER_VIEWED,
            recipient="owner@example.com",
            idempotency_key=f"lost:{business.pk}:{n}",
            state=Delivery.State.SENDING if n % 2 else Delivery.State.PENDING,
            attempt_count=n % 2,
            claimed_until=past if n % 2 else None,
            next_attempt_at=past,
        )
        for n in range(2 * count)
    )
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(delivery=row, number=1, started_at=past, worker="gone:1")
        for row in rows
        if row.state == Delivery.State.SENDING
    )


@pytest.mark.django_db
@pytest.mark.parametrize("count", [5, 50])
def test_the_sweep_issues_the_same_queries_for_5_and_50_lost_deliveries(
    count, django_assert_num_queries
):
    _lost_deliveries(5)
    with CaptureQueriesContext(connection) as five:
        assert sweep() == {"recovered": 5, "drain": True}
    OrmQ.objects.all().delete()
    Delivery.objects.all().delete()
    _lost_deliveries(count)
    with django_assert_num_queries(len(five.captured_queries)):
        assert sweep() == {"recovered": count, "drain": True}
    assert queued_drains() == ["delivery"]
    assert not DeliveryAttempt.objects.filter(outcome=DeliveryAttempt.Outcome.IN_PROGRESS).exists()


@pytest.mark.django_db
def test_the_sweeper_runs_every_half_minute():
    from django_q.models import Schedule

    from common.outbox.schedules import SCHEDULES

    sweeps = Schedule.objects.filter(name__in=SCHEDULES).order_by("next_run")
    assert [s.func for s in sweeps] == ["common.outbox.tasks.sweep"] * 2
    assert {s.minutes for s in sweeps} == {1}
    first, second = sweeps
    offset = (second.next_run - first.next_run).total_seconds()
    assert 25 <= offset <= 35
