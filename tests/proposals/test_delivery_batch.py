"""Deliveries drained in batches: one SMTP connection, few queries, one bad row never the rest.

Against the loopback SMTP server (tests/proposals/smtp.py), through ``outbox.drain``. What
happens once the server takes email again is in test_delivery_recovery.py.
"""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import OrmQ

from common import outbox
from proposals.models import Activity, Delivery, DeliveryAttempt
from tests.fallback_costs import ATTEMPT_START_PER_EMAIL, CLAIM_PER_ROW
from tests.proposals.delivery_batches import KIND, emails, queued_drains, states
from tests.proposals.factories import make_sent_proposal


def due_now(rows) -> None:
    """The backoff has passed (tests set it long, so that one drain tries a row once)."""
    Delivery.objects.filter(pk__in=[r.pk for r in rows]).exclude(next_attempt_at=None).update(
        next_attempt_at=timezone.now()
    )


@pytest.mark.django_db
def test_a_batch_of_50_goes_out_on_one_connection_in_at_most_4_queries_per_email(
    smtp_server, settings
):
    settings.DELIVERY_BATCH_SIZE = 50
    rows = emails(50)
    with CaptureQueriesContext(connection) as queries:
        result = outbox.drain(KIND)
    assert result["claimed"] == 50 and result["sent"] == 50 and result["batches"] == 1
    per_email = len(queries.captured_queries) / 50 - CLAIM_PER_ROW - ATTEMPT_START_PER_EMAIL
    assert per_email <= 4, [q["sql"][:80] for q in queries.captured_queries]
    assert len(smtp_server.received) == 50
    assert smtp_server.sessions == 1
    assert states(rows) == [Delivery.State.SENT] * 50
    # Every attempt and every timeline entry is still written, with the Message-ID sent.
    sent = Delivery.objects.filter(pk__in=[r.pk for r in rows])
    assert (
        DeliveryAttempt.objects.filter(
            delivery__in=sent, number=1, outcome=DeliveryAttempt.Outcome.SENT, smtp_code=250
        ).count()
        == 50
    )
    assert (
        Activity.objects.filter(
            kind=Activity.Kind.DELIVERY_SENT, details__delivery_id__in=[r.pk for r in rows]
        ).count()
        == 50
    )
    first = sent.get(pk=rows[0].pk)
    assert first.message_id and first.sent_at and first.claimed_until is None
    assert f"Message-ID: {first.message_id}" in smtp_server.to(first.recipient)[0].text


@pytest.mark.django_db
def test_the_queries_per_batch_do_not_grow_with_its_size(smtp_server, settings):
    settings.DELIVERY_BATCH_SIZE = 100
    settings.DELIVERY_FLUSH_EVERY = 100
    emails(10)
    with CaptureQueriesContext(connection) as ten:
        assert outbox.drain(KIND)["sent"] == 10
    emails(40)
    with CaptureQueriesContext(connection) as forty:
        assert outbox.drain(KIND)["sent"] == 40
    # Before each send its attempt and Message-ID are written: one statement. The claim, the
    # load and the outcome writes are per batch.
    per_email = 1 + CLAIM_PER_ROW + ATTEMPT_START_PER_EMAIL
    assert len(forty.captured_queries) - len(ten.captured_queries) == per_email * 30


@pytest.mark.django_db
def test_a_dropped_connection_fails_the_current_email_and_the_rest_go_out_on_a_new_one(
    smtp_server, slow_retries
):
    smtp_server.data_script = ["250 ok", "250 ok", "drop"]
    rows = emails(6)
    result = outbox.drain(KIND)
    assert result["sent"] == 5 and result["failed_retrying"] == 1
    assert smtp_server.sessions == 2
    assert (
        states(rows)
        == [Delivery.State.SENT] * 2 + [Delivery.State.FAILED_RETRYING] + [Delivery.State.SENT] * 3
    )
    dropped = Delivery.objects.get(pk=rows[2].pk)
    assert dropped.last_error == "mail server closed the connection"
    assert dropped.attempt_count == 1 and dropped.next_attempt_at is not None
    [attempt] = dropped.attempts.all()
    assert attempt.outcome == DeliveryAttempt.Outcome.TRANSIENT_FAILURE
    # Its retry follows the policy: not before its time, then the next drain sends it.
    assert dropped.next_attempt_at > timezone.now()
    assert outbox.drain(KIND)["claimed"] == 0
    due_now([dropped])
    assert outbox.drain(KIND)["sent"] == 1
    assert len(smtp_server.to(dropped.recipient)) == 1


@pytest.mark.django_db
def test_a_permanent_refusal_keeps_the_connection_for_the_rest(smtp_server):
    rows = emails(4, recipients={1: "nobody@example.com"})
    smtp_server.rcpt_answers = {"nobody@example.com": "550 5.1.1 User unknown"}
    result = outbox.drain(KIND)
    assert result["sent"] == 3 and result["failed_permanent"] == 1
    assert states(rows)[1] == Delivery.State.FAILED_PERMANENT
    failed = Activity.objects.get(kind=Activity.Kind.DELIVERY_FAILED)
    assert failed.details["reason"] == "mailbox does not exist"


@pytest.mark.django_db
def test_a_new_connection_after_the_per_connection_limit(smtp_server, settings):
    settings.DELIVERY_SMTP_MAX_PER_CONNECTION = 3
    emails(7)
    assert outbox.drain(KIND)["sent"] == 7
    assert smtp_server.sessions == 3


@pytest.mark.django_db
def test_a_poison_row_is_given_up_after_its_attempts_and_never_blocks_its_batch(
    smtp_server, slow_retries
):
    slow_retries.DELIVERY_MAX_ATTEMPTS = 3
    slow_retries.DELIVERY_MAX_AGE_SECONDS = 86400
    rows = emails(5, recipients={2: "poison@example.com"})
    smtp_server.rcpt_answers = {"poison@example.com": "451 4.3.0 Try again later"}
    first = outbox.drain(KIND)
    assert first["sent"] == 4 and first["failed_retrying"] == 1
    due_now(rows)
    assert outbox.drain(KIND) == {
        "claimed": 1, "batches": 1, "left": 0, "failed_retrying": 1
    }  # fmt: skip
    due_now(rows)
    assert outbox.drain(KIND)["failed_permanent"] == 1
    due_now(rows)
    assert outbox.drain(KIND)["claimed"] == 0
    poison = Delivery.objects.get(pk=rows[2].pk)
    assert poison.state == Delivery.State.FAILED_PERMANENT and poison.attempt_count == 3
    assert "gave up after 3 attempts" in poison.last_error
    assert states([r for r in rows if r.pk != poison.pk]) == [Delivery.State.SENT] * 4
    assert len(smtp_server.received) == 4


@pytest.mark.django_db
def test_a_row_that_cannot_be_built_fails_alone(smtp_server, slow_retries, monkeypatch):
    from proposals.delivery import mailer

    rows = emails(3)
    real_build = mailer.build_message

    def build(delivery):
        if delivery.pk == rows[1].pk:
            raise KeyError("a template bug")
        return real_build(delivery)

    monkeypatch.setattr(mailer, "build_message", build)
    result = outbox.drain(KIND)
    assert result["sent"] == 2 and result["failed_retrying"] == 1
    assert Delivery.objects.get(pk=rows[1].pk).last_error == "unexpected error (KeyError)"


@pytest.mark.django_db
def test_a_business_over_its_rate_is_deferred_without_an_attempt_while_the_rest_go_on(
    smtp_server, settings
):
    settings.DELIVERY_RATE_LIMIT = 2
    settings.DELIVERY_RATE_WINDOW_SECONDS = 3600
    busy = emails(4)
    other = emails(2)
    result = outbox.drain(KIND)
    assert result["sent"] == 4 and result["deferred"] == 2
    assert states(busy) == [Delivery.State.SENT] * 2 + [Delivery.State.PENDING] * 2
    assert states(other) == [Delivery.State.SENT] * 2
    for row in Delivery.objects.filter(pk__in=[r.pk for r in busy[2:]]):
        assert row.attempt_count == 0 and not row.attempts.exists()
        assert row.claimed_until is None and row.next_attempt_at > timezone.now()
    # Not due again before the next window: a drain now finds nothing.
    assert outbox.drain(KIND)["claimed"] == 0


@pytest.mark.django_db
def test_a_drain_out_of_time_gives_the_rest_back_and_asks_for_another(smtp_server, settings):
    smtp_server.data_script = ["stall:5"]
    rows = emails(5)
    threading.Timer(0.4, smtp_server.release.set).start()
    result = outbox.drain(KIND, max_seconds=0.2)
    assert result == {"claimed": 5, "batches": 1, "left": 4, "sent": 1}
    assert states(rows) == [Delivery.State.SENT] + [Delivery.State.PENDING] * 4
    assert not DeliveryAttempt.objects.filter(delivery_id__in=[r.pk for r in rows[1:]]).exists()
    assert queued_drains() == [(KIND,)]
    assert outbox.drain(KIND)["sent"] == 4
    assert len(smtp_server.received) == 5


@pytest.mark.django_db
def test_an_unreachable_server_pauses_the_batch_without_spending_attempts(settings):
    from tests.proposals.smtp import free_port, point_email_at

    settings.EMAIL_TIMEOUT = 1.0
    settings.DELIVERY_SEND_DEADLINE_SECONDS = 3.0
    settings.DELIVERY_RATE_LIMIT = 0
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 30.0
    point_email_at(settings, free_port())  # nobody listens
    rows = emails(6)
    result = outbox.drain(KIND)
    assert result["failed_retrying"] == 2 and result["stopped"] is True
    assert result["claimed"] == 6
    spent = dict(
        Delivery.objects.filter(pk__in=[r.pk for r in rows]).values_list("pk", "attempt_count")
    )
    assert [spent[r.pk] for r in rows] == [1, 1, 0, 0, 0, 0]
    assert states(rows)[2:] == [Delivery.State.PENDING] * 4
    later = Delivery.objects.get(pk=rows[5].pk).next_attempt_at
    assert later > timezone.now() + timedelta(seconds=20)


@pytest.mark.django_db
def test_a_server_answering_421_pauses_the_batch_without_spending_attempts_or_slots(
    smtp_server, settings
):
    # 421 is the server closing the channel ("service not available"), not a verdict on the
    # recipient: after two in a row the rest of the batch waits instead of spending an attempt
    # and a send slot each (which would push them past the business's rate for a minute).
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 30.0
    settings.DELIVERY_RATE_LIMIT = 3
    settings.DELIVERY_RATE_WINDOW_SECONDS = 86400
    smtp_server.rcpt_script = ["421 4.3.2 Service not available, try again later"] * 6
    rows = emails(6)
    result = outbox.drain(KIND)
    assert result["failed_retrying"] == 2 and result["stopped"] is True
    spent = dict(
        Delivery.objects.filter(pk__in=[r.pk for r in rows]).values_list("pk", "attempt_count")
    )
    assert [spent[r.pk] for r in rows] == [1, 1, 0, 0, 0, 0]
    assert states(rows) == [Delivery.State.FAILED_RETRYING] * 2 + [Delivery.State.PENDING] * 4
    waiting = Delivery.objects.get(pk=rows[5].pk)
    assert waiting.next_attempt_at > timezone.now() + timedelta(seconds=20)
    assert waiting.last_error == ""
    assert Delivery.objects.get(pk=rows[0].pk).last_error == "mail server temporarily unavailable"
    # The server is back: the refused tries gave their send slots back, the waiting rows took
    # none, so the business's whole rate (3) is there for them.
    smtp_server.rcpt_script = []
    Delivery.objects.filter(pk__in=[r.pk for r in rows]).update(next_attempt_at=timezone.now())
    result = outbox.drain(KIND)
    assert result["sent"] == 3


@pytest.mark.django_db
def test_a_421_between_accepted_sends_does_not_pause_the_batch(smtp_server, settings):
    settings.DELIVERY_RATE_LIMIT = 0
    smtp_server.rcpt_script = ["421 4.3.2 try again later", ""] * 3
    emails(6)
    result = outbox.drain(KIND)
    # Every row claimed was tried: three refused (one at a time), the rest sent.
    assert result["failed_retrying"] == 3
    assert result["sent"] == result["claimed"] - 3
    assert not result.get("stopped") and not result.get("deferred")


@pytest.mark.django_db(transaction=True)
def test_two_drains_at_once_send_every_email_exactly_once(smtp_server, settings):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent claims are PostgreSQL's SKIP LOCKED (the fallback: test_outbox)")
    settings.DELIVERY_BATCH_SIZE = 7
    rows = emails(60)
    barrier = threading.Barrier(2)
    results = []

    def worker():
        try:
            barrier.wait(timeout=10)
            results.append(outbox.drain(KIND))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(r["sent"] for r in results) == 60
    assert all(r["sent"] > 0 for r in results)  # both took part
    recipients = [message.recipients[0] for message in smtp_server.received]
    assert len(recipients) == len(set(recipients)) == 60
    assert DeliveryAttempt.objects.filter(delivery_id__in=[r.pk for r in rows]).count() == 60
    assert states(rows) == [Delivery.State.SENT] * 60


@pytest.mark.django_db
def test_recording_many_emails_in_one_transaction_queues_one_drain(
    django_capture_on_commit_callbacks, smtp_server
):
    from proposals.delivery.services import delivery_record

    proposal, version = make_sent_proposal()
    OrmQ.objects.all().delete()
    outbox.drain(KIND)
    from common.outbox.drain import forget_queued_drains

    forget_queued_drains()
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(20):
            delivery_record(
                business=proposal.business,
                kind=Delivery.Kind.OWNER_VIEWED,
                recipient=f"owner{n}@example.com",
                idempotency_key=f"burst:{n}",
                proposal=proposal,
                version=version,
            )
    assert queued_drains() == [(KIND,)]
    assert outbox.drain(KIND)["sent"] == 20


@pytest.mark.django_db
def test_a_send_past_its_deadline_is_cut_and_the_batch_goes_on(smtp_server, slow_retries):
    slow_retries.DELIVERY_SEND_DEADLINE_SECONDS = 0.5
    slow_retries.EMAIL_TIMEOUT = 5.0  # the socket alone would wait longer
    smtp_server.data_script = ["stall:5"]
    rows = emails(3)
    started = time.monotonic()
    result = outbox.drain(KIND)
    assert time.monotonic() - started < 3
    assert result["failed_retrying"] == 1 and result["sent"] == 2
    late = Delivery.objects.get(pk=rows[0].pk)
    assert late.last_error == "mail server did not finish within 0.5s"
    assert smtp_server.sessions == 2


@pytest.mark.django_db
def test_rows_updated_in_one_statement_keep_every_field(smtp_server):
    from common.outbox.writes import update_rows

    rows = emails(3)
    now = timezone.now()
    for n, row in enumerate(rows):
        row.state = Delivery.State.FAILED_RETRYING
        row.last_error = f"error {n}" if n else ""
        row.next_attempt_at = None if n == 2 else now + timedelta(seconds=n)
    with CaptureQueriesContext(connection) as queries:
        assert update_rows(Delivery, rows, ["state", "last_error", "next_attempt_at"]) == 3
    assert len(queries.captured_queries) == 1
    stored = {d.pk: d for d in Delivery.objects.filter(pk__in=[r.pk for r in rows])}
    for row in rows:
        assert stored[row.pk].state == Delivery.State.FAILED_RETRYING
        assert stored[row.pk].last_error == row.last_error
        assert stored[row.pk].next_attempt_at == row.next_attempt_at
