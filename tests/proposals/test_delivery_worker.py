"""Crash and race cases with real processes and threads on the test database."""

import os
import signal
import threading
import time

import pytest
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule

from proposals import services
from proposals.delivery.sending import delivery_execute
from proposals.models import Delivery, DeliveryAttempt
from tests.proposals.factories import make_sent_proposal


def wait_for(condition, *, timeout: float, what: str, tick=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tick:
            tick()
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_loses_nothing_and_sends_once(
    smtp_server, start_qcluster, settings
):
    smtp_server.data_script = ["stall:300"]  # the first worker hangs in DATA until it dies
    env = {
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(settings.EMAIL_PORT),
        "EMAIL_TIMEOUT": "7",
        "DELIVERY_SEND_DEADLINE_SECONDS": "7",
        "Q_TIMEOUT": "8",
        "DELIVERY_LEASE_SECONDS": "9",
        "DELIVERY_RATE_LIMIT": "0",
        "Q_WORKERS": "1",
    }
    _, version = make_sent_proposal()  # commits, so its enqueue runs: the task is on the queue
    delivery = Delivery.objects.get(version=version, kind=Delivery.Kind.PROPOSAL)

    first = start_qcluster(**env)
    wait_for(lambda: smtp_server.stalled, timeout=60, what="the first worker to be mid-send")
    os.killpg(first.proc.pid, signal.SIGKILL)
    first.proc.wait(timeout=10)
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.SENDING
    [attempt] = delivery.attempts.all()
    assert attempt.outcome == DeliveryAttempt.Outcome.IN_PROGRESS

    # Nobody calls the sweeper here: the new cluster runs it from its django-q2 schedule (its
    # scheduler looks every 30 s), sees the lease run out and sends the delivery again.
    assert Schedule.objects.filter(name="outbox: sweep").update(next_run=timezone.now()) == 1
    start_qcluster(**env)
    wait_for(
        lambda: Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.SENT).exists(),
        timeout=150,
        what="the new cluster's sweeper to send it",
    )
    outcomes = list(delivery.attempts.order_by("number").values_list("outcome", flat=True))
    assert outcomes == [DeliveryAttempt.Outcome.INTERRUPTED, DeliveryAttempt.Outcome.SENT]
    assert len(smtp_server.to(delivery.recipient)) == 1


@pytest.mark.django_db(transaction=True)
def test_accepting_twice_at_once_sends_one_confirmation_and_one_notification(smtp_server) -> None:
    proposal, version = make_sent_proposal()
    # The client got the proposal by email, then accepts it from two tabs at once.
    assert delivery_execute(Delivery.objects.get(kind=Delivery.Kind.PROPOSAL).pk) == "sent"
    barrier = threading.Barrier(2)
    results: list = []

    def accept(name: str) -> None:
        try:
            barrier.wait(timeout=5)
            services.proposal_accept(
                version=version, signed_name=name, agreed=True, selected_item_keys=[],
                ip="203.0.113.9", user_agent="test",
            )  # fmt: skip
            results.append("accepted")
        except services.TransitionError:
            results.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=accept, args=(name,)) for name in ("Jane", "Jane D.")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(results) == ["accepted", "refused"]

    # Every delivery, run twice over as duplicate tasks would.
    for _ in range(2):
        for delivery_id in Delivery.objects.values_list("pk", flat=True):
            delivery_execute(delivery_id)
    kinds = sorted(Delivery.objects.values_list("kind", flat=True))
    assert kinds == sorted(
        [
            Delivery.Kind.PROPOSAL,
            Delivery.Kind.ACCEPTANCE_CONFIRMATION,
            Delivery.Kind.OWNER_ACCEPTED,
        ]
    )
    owner = Delivery.objects.get(kind=Delivery.Kind.OWNER_ACCEPTED).recipient
    assert len(smtp_server.to(version.recipient_email)) == 2  # the proposal, the confirmation
    assert len(smtp_server.to(owner)) == 1
    assert len(smtp_server.received) == 3
