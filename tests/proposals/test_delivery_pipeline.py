"""The delivery pipeline against a real loopback SMTP server: claim, retry, backpressure (the
sweeper and the schedules have test_delivery_sweeper.py)."""

import threading
import time
from datetime import timedelta

import pytest
import structlog
from django.db import connection
from django.utils import timezone

from common import outbox
from proposals.delivery.sending import delivery_execute
from proposals.delivery.services import (
    DeliveryRetryError,
    delivery_record,
    delivery_retry,
)
from proposals.models import Activity, Delivery, DeliveryAttempt
from tests.proposals.delivery_queue import (
    proposal_delivery,
    queued_drains,
    run_queued_drains,
    sweep,
)
from tests.proposals.factories import make_sent_proposal


@pytest.mark.django_db
def test_recording_enqueues_only_after_commit(django_capture_on_commit_callbacks, smtp_server):
    _, version = make_sent_proposal()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        delivery = delivery_record(
            business=version.business,
            kind=Delivery.Kind.OWNER_VIEWED,
            recipient="owner@example.com",
            idempotency_key="test:record",
            proposal=version.proposal,
            version=version,
        )
        again = delivery_record(
            business=version.business,
            kind=Delivery.Kind.OWNER_VIEWED,
            recipient="owner@example.com",
            idempotency_key="test:record",
        )
    assert again.pk == delivery.pk
    assert len(callbacks) == 1
    assert delivery.state == Delivery.State.PENDING and delivery.next_attempt_at is not None
    assert queued_drains() == []
    callbacks[0]()
    assert queued_drains() == ["delivery"]
    [drained] = run_queued_drains()
    assert drained["sent"] == 2  # this one and the proposal email, due since the proposal was sent
    assert len(smtp_server.to("owner@example.com")) == 1


@pytest.mark.django_db
def test_421_twice_then_250_sends_one_message_after_three_attempts(smtp_server):
    smtp_server.data_script = ["421 4.3.2 Busy", "421 4.3.2 Still busy"]
    delivery = proposal_delivery()
    outcomes = [delivery_execute(delivery.pk) for _ in range(3)]
    assert outcomes == ["failed_retrying", "failed_retrying", "sent"]
    assert len(smtp_server.received) == 1
    assert smtp_server.data_commands == 3
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.SENT and delivery.attempt_count == 3
    assert delivery.sent_at is not None and delivery.claimed_until is None
    attempts = list(delivery.attempts.order_by("number"))
    assert [(a.number, a.outcome, a.smtp_code) for a in attempts] == [
        (1, DeliveryAttempt.Outcome.TRANSIENT_FAILURE, 421),
        (2, DeliveryAttempt.Outcome.TRANSIENT_FAILURE, 421),
        (3, DeliveryAttempt.Outcome.SENT, 250),
    ]
    assert all(a.worker and a.finished_at and a.duration_ms is not None for a in attempts)
    assert "Busy" in attempts[0].smtp_message
    # Every retry carried the same Message-ID.
    assert f"Message-ID: {delivery.message_id}" in smtp_server.received[0].text
    sent = Activity.objects.get(proposal=delivery.proposal, kind=Activity.Kind.DELIVERY_SENT)
    assert sent.details["attempts"] == 3
    assert sent.details["recipient"] == delivery.recipient


@pytest.mark.django_db
def test_transient_failure_waits_for_the_backoff(smtp_server, settings):
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 60.0
    settings.DELIVERY_BACKOFF_CAP_SECONDS = 600.0
    smtp_server.data_script = ["451 4.3.0 Later"]
    delivery = proposal_delivery()
    before = timezone.now()
    assert delivery_execute(delivery.pk) == "failed_retrying"
    delivery.refresh_from_db()
    assert before <= delivery.next_attempt_at <= before + timedelta(seconds=61)
    assert delivery.last_error == "mail server error, will retry"
    # Not due yet: running the task again does nothing.
    if delivery.next_attempt_at > timezone.now():
        assert delivery_execute(delivery.pk) == "skipped"
        assert smtp_server.data_commands == 1


@pytest.mark.django_db
def test_550_fails_at_once_and_shows_the_reason_on_the_timeline(smtp_server):
    smtp_server.rcpt_script = ["550 5.1.1 User unknown"]
    delivery = proposal_delivery()
    assert delivery_execute(delivery.pk) == "failed_permanent"
    assert delivery_execute(delivery.pk) == "skipped"
    assert sweep(now=timezone.now() + timedelta(days=1)) == {"recovered": 0, "drain": False}
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.FAILED_PERMANENT
    assert delivery.attempt_count == 1 and delivery.next_attempt_at is None
    assert delivery.last_error == "mailbox does not exist"
    [attempt] = delivery.attempts.all()
    assert attempt.outcome == DeliveryAttempt.Outcome.PERMANENT_FAILURE
    assert attempt.smtp_code == 550
    failed = Activity.objects.get(proposal=delivery.proposal, kind=Activity.Kind.DELIVERY_FAILED)
    assert failed.actor_type == Activity.Actor.SYSTEM
    assert failed.details["recipient"] == delivery.recipient  # the business's own client
    assert failed.details["reason"] == "mailbox does not exist"
    assert failed.details["summary"] == (
        f"delivery to {delivery.recipient} failed: mailbox does not exist"
    )
    assert smtp_server.received == []


@pytest.mark.django_db
def test_a_silent_server_times_out_and_the_delivery_is_retried_later(silent_smtp_server, settings):
    delivery = proposal_delivery()
    started = time.monotonic()
    assert delivery_execute(delivery.pk) == "failed_retrying"
    assert time.monotonic() - started < settings.EMAIL_TIMEOUT + 1  # the worker is free again
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.FAILED_RETRYING
    assert delivery.claimed_until is None
    [attempt] = delivery.attempts.all()
    assert attempt.outcome == DeliveryAttempt.Outcome.TRANSIENT_FAILURE
    assert attempt.duration_ms < (settings.EMAIL_TIMEOUT + 0.5) * 1000
    assert "did not answer within 1s" in attempt.error


@pytest.mark.django_db
def test_retries_stop_after_the_maximum_attempts(smtp_server, settings):
    settings.DELIVERY_MAX_ATTEMPTS = 2
    smtp_server.data_script = ["421 busy"] * 5
    delivery = proposal_delivery()
    assert delivery_execute(delivery.pk) == "failed_retrying"
    assert delivery_execute(delivery.pk) == "failed_permanent"
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.FAILED_PERMANENT
    assert "gave up after 2 attempts" in delivery.last_error
    failed = Activity.objects.get(proposal=delivery.proposal, kind=Activity.Kind.DELIVERY_FAILED)
    assert failed.details["attempts"] == 2


@pytest.mark.django_db
def test_retries_stop_after_the_maximum_age(smtp_server, settings):
    settings.DELIVERY_MAX_AGE_SECONDS = 60
    smtp_server.data_script = ["421 busy"]
    delivery = proposal_delivery()
    Delivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - timedelta(seconds=61)
    )
    assert delivery_execute(delivery.pk) == "failed_permanent"


@pytest.mark.django_db
def test_the_same_delivery_drained_three_times_sends_one_message(smtp_server):
    delivery = proposal_delivery()
    for _ in range(3):
        assert outbox.request_drain("delivery", force=True)
    assert queued_drains() == ["delivery"] * 3
    assert [result["claimed"] for result in run_queued_drains()] == [1, 0, 0]
    assert len(smtp_server.received) == 1
    assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_one_message(smtp_server):
    smtp_server.data_script = ["stall:0.5"]  # hold the first send so the second overlaps it
    delivery = proposal_delivery()
    barrier = threading.Barrier(2)
    outcomes = []

    def worker():
        try:
            barrier.wait(timeout=5)
            outcomes.append(delivery_execute(delivery.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    smtp_server.release.set()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(outcomes) == ["sent", "skipped"]
    assert len(smtp_server.received) == 1
    assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 1


@pytest.mark.django_db
def test_retry_by_hand_starts_a_fresh_round(smtp_server, owner):
    smtp_server.rcpt_script = ["550 no such user"]
    delivery = proposal_delivery()
    delivery_execute(delivery.pk)
    retried = delivery_retry(delivery=delivery, acting_user=owner)
    assert retried.state == Delivery.State.PENDING and retried.attempt_count == 0
    assert retried.retried_by == owner and retried.retried_at is not None
    assert delivery_execute(delivery.pk) == "sent"
    numbers = list(delivery.attempts.order_by("number").values_list("number", flat=True))
    assert numbers == [1, 2]
    with pytest.raises(DeliveryRetryError) as caught:
        delivery_retry(delivery=delivery, acting_user=owner)
    assert caught.value.code == "already_sent"
    assert len(smtp_server.received) == 1


@pytest.mark.django_db
def test_retry_refuses_a_delivery_being_sent(smtp_server, owner):
    delivery = proposal_delivery()
    Delivery.objects.filter(pk=delivery.pk).update(
        state=Delivery.State.SENDING, claimed_until=timezone.now() + timedelta(seconds=30)
    )
    with pytest.raises(DeliveryRetryError) as caught:
        delivery_retry(delivery=delivery, acting_user=owner)
    assert caught.value.code == "in_progress"
    Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.State.CANCELLED)
    with pytest.raises(DeliveryRetryError) as caught:
        delivery_retry(delivery=delivery, acting_user=owner)
    assert caught.value.code == "cancelled"


@pytest.mark.django_db
def test_a_withdrawn_proposal_cancels_its_pending_email(smtp_server):
    from proposals.services import proposal_withdraw

    delivery = proposal_delivery()
    # Withdrawn while a worker already had the task in hand.
    Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.State.PENDING)
    proposal_withdraw(proposal=delivery.proposal, acting_user=None)
    Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.State.PENDING)
    assert delivery_execute(delivery.pk) == "cancelled"
    assert smtp_server.received == []


@pytest.mark.django_db
def test_a_business_over_its_rate_waits_without_using_an_attempt(smtp_server, settings):
    settings.DELIVERY_RATE_LIMIT = 2
    settings.DELIVERY_RATE_WINDOW_SECONDS = 3600
    first = proposal_delivery()
    _, version = make_sent_proposal(business=first.business)
    second = Delivery.objects.get(version=version)
    _, version = make_sent_proposal(business=first.business)
    third = Delivery.objects.get(version=version)
    other = proposal_delivery()  # another business is not slowed down
    assert [delivery_execute(d.pk) for d in (first, second, third, other)] == [
        "sent",
        "sent",
        "deferred",
        "sent",
    ]
    third.refresh_from_db()
    assert third.state == Delivery.State.PENDING and third.attempt_count == 0
    assert third.next_attempt_at > timezone.now() and third.claimed_until is None
    assert not third.attempts.exists()
    assert len(smtp_server.received) == 3


@pytest.mark.django_db
def test_the_worker_logs_under_the_request_that_caused_the_email(smtp_server, log_events):
    structlog.contextvars.bind_contextvars(request_id="origin-req-delivery-1")
    try:
        delivery = proposal_delivery()
    finally:
        structlog.contextvars.clear_contextvars()
    assert delivery.request_id == "origin-req-delivery-1"
    assert delivery_execute(delivery.pk) == "sent"  # as enqueued by the sweeper: no context
    [sent] = [event for event in log_events if event["event"] == "delivery_sent"]
    assert sent["request_id"] == "origin-req-delivery-1"
    assert sent["delivery_id"] == delivery.pk
    assert sent["recipient"].startswith(delivery.recipient[0] + "***@")
    assert structlog.contextvars.get_contextvars() == {}
