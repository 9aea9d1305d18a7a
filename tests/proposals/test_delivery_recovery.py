"""After a mail server outage: the emails waiting out a backoff go at once when it takes email
again, a bounded number per backoff base, and a failing kind's soonest row is probed."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from common import outbox
from proposals.models import Delivery
from tests.proposals.delivery_batches import KIND, emails, queued_drains, states


def wait_out_a_backoff(smtp_server, count: int) -> list[Delivery]:
    """``count`` emails the mail server refused for now (451): each waits out a long backoff."""
    smtp_server.data_script = ["451 4.3.0 Try again later"] * count
    rows = emails(count)
    assert outbox.drain(KIND)["failed_retrying"] == count
    assert all(
        d.next_attempt_at is not None and d.next_attempt_at > timezone.now()
        for d in Delivery.objects.filter(pk__in=[r.pk for r in rows])
    )
    return rows


@pytest.mark.django_db
def test_once_the_mail_server_takes_email_again_the_emails_waiting_out_a_backoff_go_at_once(
    smtp_server, slow_retries
):
    waiting = wait_out_a_backoff(smtp_server, 4)
    # Deferred by its business's rate, never tried: its time is kept.
    [deferred] = emails(1)
    later = timezone.now() + timedelta(hours=1)
    Delivery.objects.filter(pk=deferred.pk).update(next_attempt_at=later)
    [fresh] = emails(1)

    result = outbox.drain(KIND)

    assert result["pulled_forward"] == 4
    assert result["sent"] == 5
    assert states(waiting) == [Delivery.State.SENT] * 4
    tries = Delivery.objects.filter(pk__in=[r.pk for r in waiting]).values_list("attempt_count")
    assert sorted(tries) == [(2,)] * 4  # the refused try, then the one that went out
    assert len(smtp_server.received) == 5
    assert states([fresh]) == [Delivery.State.SENT]
    kept = Delivery.objects.get(pk=deferred.pk)
    assert (kept.state, kept.next_attempt_at) == (Delivery.State.PENDING, later)
    # Recovered: the next good batch pulls nothing more forward.
    [another] = emails(1)
    assert "pulled_forward" not in outbox.drain(KIND)


@pytest.mark.django_db
def test_a_batch_still_meeting_failures_pulls_nothing_forward(smtp_server, slow_retries):
    waiting = wait_out_a_backoff(smtp_server, 2)
    smtp_server.data_script = ["250 ok", "451 4.3.0 Try again later"]
    emails(2)
    result = outbox.drain(KIND)
    assert (result["sent"], result["failed_retrying"]) == (1, 1)
    assert "pulled_forward" not in result
    assert states(waiting) == [Delivery.State.FAILED_RETRYING] * 2


@pytest.mark.django_db
def test_a_recovery_pulls_a_bounded_number_forward_per_backoff_base(smtp_server, slow_retries):
    from django.core.cache import cache

    from common.outbox.drain import PULLED_PREFIX

    slow_retries.DELIVERY_RECOVERY_ROWS = 2
    waiting = wait_out_a_backoff(smtp_server, 5)
    emails(1)
    result = outbox.drain(KIND)
    # Two pulled forward and sent; their success pulls no more within the backoff base.
    assert (result["pulled_forward"], result["sent"]) == (2, 3)
    assert states(waiting).count(Delivery.State.FAILED_RETRYING) == 3
    # A backoff base later the next good batch takes two more, then the last one.
    cache.delete(f"{PULLED_PREFIX}{KIND}")
    emails(1)
    assert outbox.drain(KIND)["pulled_forward"] == 2
    cache.delete(f"{PULLED_PREFIX}{KIND}")
    emails(1)
    assert outbox.drain(KIND)["pulled_forward"] == 1
    assert states(waiting) == [Delivery.State.SENT] * 5


@pytest.mark.django_db
def test_while_nothing_of_a_failing_kind_is_due_the_sweeper_tries_its_soonest_row(
    smtp_server, slow_retries
):
    waiting = wait_out_a_backoff(smtp_server, 3)
    OrmQ.objects.all().delete()
    soonest = Delivery.objects.filter(pk__in=[r.pk for r in waiting]).earliest("next_attempt_at")

    assert outbox.sweep()[KIND]["drain"] is True
    assert queued_drains() == [(KIND,)]
    due = Delivery.objects.filter(
        pk__in=[r.pk for r in waiting], next_attempt_at__lte=timezone.now()
    )
    assert list(due.values_list("pk", flat=True)) == [soonest.pk]
    # The server answers again: that one goes, and takes the rest with it.
    result = outbox.drain(KIND)
    assert (result["sent"], result["pulled_forward"]) == (3, 2)
    # Recovered: nothing is pulled forward by the next sweep.
    OrmQ.objects.all().delete()
    emails_later = emails(1)
    Delivery.objects.filter(pk=emails_later[0].pk).update(
        next_attempt_at=timezone.now() + timedelta(hours=1), attempt_count=1
    )
    assert outbox.sweep()[KIND]["drain"] is False


@pytest.mark.django_db
def test_a_kind_that_never_failed_is_not_probed(smtp_server):
    [row] = emails(1)
    later = timezone.now() + timedelta(hours=1)
    Delivery.objects.filter(pk=row.pk).update(
        state=Delivery.State.FAILED_RETRYING, attempt_count=1, next_attempt_at=later
    )
    assert outbox.sweep()[KIND]["drain"] is False
    assert Delivery.objects.get(pk=row.pk).next_attempt_at == later
