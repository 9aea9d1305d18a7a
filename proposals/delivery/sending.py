"""Sending deliveries: the delivery kind's work on a claimed batch, and one row by hand.

A drain claims a batch with a lease before it sends (one statement on PostgreSQL), so a row is
in one worker's hands at a time; the batch goes out over one SMTP connection, and its outcomes
are written together every ``DELIVERY_FLUSH_EVERY`` messages (through a database restart:
``common.outbox.writes.outcomes_written``).
"""

import os
import socket
import time
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone

from common import outbox
from common.request_id import current_request_id
from proposals.delivery import mailer, policy, suppressions
from proposals.delivery.kind import DELIVERY
from proposals.delivery.outcomes import Outcomes
from proposals.delivery.rows import column_of
from proposals.models import Delivery, DeliveryAttempt, Proposal

log = structlog.get_logger(__name__)

# Kinds whose email makes no sense any more once the proposal is withdrawn or answered.
_NEEDS_OPEN_PROPOSAL = (Delivery.Kind.PROPOSAL, Delivery.Kind.REMINDER)
# After this many sends in a row that the server could not take at all (no connection, or
# 421), the rest of the batch waits (no attempt counted, no send slot spent) instead of
# failing one by one.
UNAVAILABLE_TO_PAUSE = 2

_WORKER: dict[int, str] = {}


def _worker_name() -> str:
    pid = os.getpid()  # per process: django-q2 forks its workers
    if pid not in _WORKER:
        _WORKER[pid] = f"{socket.gethostname()}:{pid}"
    return _WORKER[pid]


def _still_wanted(delivery: Delivery) -> str:
    """Empty when the email should go out, else why it is cancelled."""
    if delivery.kind not in _NEEDS_OPEN_PROPOSAL:
        return ""
    proposal = delivery.proposal  # None, without a query, when proposal_id is None
    if proposal is None:
        return ""
    if delivery.kind == Delivery.Kind.REMINDER and not proposal.is_open:
        return f"proposal is {proposal.status}"
    if proposal.status == Proposal.Status.WITHDRAWN:
        return "proposal was withdrawn"
    version = delivery.version  # None, without a query, when version_id is None
    if version is not None and version.token_revoked_at:
        return "client link was revoked"
    return ""


def _last_attempt_numbers(ids: list[int]) -> dict[int, int]:
    from django.db.models import Max

    rows = (
        DeliveryAttempt.objects.filter(delivery_id__in=ids)
        .values("delivery_id")
        .annotate(last=Max("number"))
        .order_by()
    )
    return {row["delivery_id"]: row["last"] for row in rows}


def _start_attempt(delivery: Delivery, *, number: int, now) -> DeliveryAttempt:
    """Count the attempt and persist the Message-ID before anything reaches the server.

    One statement on PostgreSQL (the UPDATE and the INSERT in one CTE). Its commit does not
    wait for the disk when ``DELIVERY_ATTEMPT_ASYNC_COMMIT`` (the default): a worker killed
    mid-send loses nothing by that (the server still has it); only a crash of PostgreSQL
    itself in the next fraction of a second could forget the open attempt — the row is
    still claimed (that commit waited), so it is sent again with the same Message-ID. The
    claim and the outcomes always wait for the disk. That wait (~6 ms here) per email was
    the drain's biggest cost.
    """
    delivery.attempt_count += 1
    delivery.message_id = delivery.message_id or mailer.message_id_for(delivery)
    # Over SMTP the webhooks name our Message-ID: known before the send, so a bounce reported
    # before this batch's outcomes are written still finds its delivery. An email service's
    # own id replaces it once the service answered.
    delivery.provider_message_id = delivery.message_id
    attempt = DeliveryAttempt(
        delivery=delivery,
        number=number,
        started_at=now,
        worker=_worker_name(),
        request_id=delivery.request_id,
    )
    if db_connection.vendor == "postgresql":
        attempt.pk = _start_attempt_postgresql(delivery, attempt)
        attempt._state.adding = False
        attempt._state.db = db_connection.alias
        return attempt
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(
            attempt_count=delivery.attempt_count,
            message_id=delivery.message_id,
            provider_message_id=delivery.provider_message_id,
        )
        attempt.save(force_insert=True)
    return attempt


def _start_attempt_postgresql(delivery: Delivery, attempt: DeliveryAttempt) -> int:
    quote = db_connection.ops.quote_name
    fields = [f for f in DeliveryAttempt._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(quote(column_of(f)) for f in fields)
    values, params = [], []
    for f in fields:
        if f.attname == "delivery_id":
            values.append("d.id")
        else:
            values.append("%s")
            params.append(f.get_db_prep_save(getattr(attempt, f.attname), db_connection))
    delivery_table = quote(Delivery._meta.db_table)
    sql = " ".join(
        [
            "WITH cfg AS (SELECT set_config('synchronous_commit', %s, true)),",
            f"d AS (UPDATE {delivery_table} SET attempt_count = %s, message_id = %s,",  # noqa: S608
            "provider_message_id = %s WHERE id = %s RETURNING id)",
            f"INSERT INTO {quote(DeliveryAttempt._meta.db_table)} ({columns})",
            f"SELECT {', '.join(values)} FROM d, cfg RETURNING id",  # noqa: S608
        ]
    )
    synchronous = "off" if settings.DELIVERY_ATTEMPT_ASYNC_COMMIT else "on"
    with db_connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                synchronous,
                delivery.attempt_count,
                delivery.message_id,
                delivery.provider_message_id,
                delivery.pk,
                *params,
            ],
        )
        return cursor.fetchone()[0]


def _work_one(
    delivery: Delivery,
    *,
    connection: mailer.Connection,
    outcomes: Outcomes,
    deferred: dict[int, datetime],
    number: int,
    max_attempts: int,
    suppressed: dict,
) -> str:
    now = timezone.now()
    reason = _still_wanted(delivery)
    if reason:
        outcomes.cancelled(delivery, reason=reason, now=now)
        return "cancelled"
    suppression = suppressions.blocking(suppressed, delivery)
    if suppression is not None:
        # A hard bounce or a complaint earlier: fail now, without asking the mail server.
        outcomes.failed(
            delivery,
            reason=suppressions.suppression_reason(suppression),
            smtp_code=None,
            now=now,
        )
        return "suppressed"
    retry_at = policy.take_send_slot(delivery.business_id, now=now)
    if retry_at is not None:
        # Over the business's rate: back for later, without counting an attempt.
        deferred[delivery.pk] = retry_at
        log.info(
            "delivery_rate_limited",
            delivery_id=delivery.pk,
            retry_at=retry_at.isoformat(),
        )
        return "deferred"
    if delivery.attempt_count >= max_attempts:
        # Only reachable after interrupted attempts: a worker keeps dying on it.
        outcomes.failed(
            delivery,
            reason=delivery.last_error or "too many attempts",
            smtp_code=None,
            now=now,
        )
        return "failed_permanent"
    attempt = _start_attempt(delivery, number=number, now=now)
    started = time.monotonic()
    error = result = None
    try:
        result = connection.send(delivery)
    except mailer.DeliveryError as exc:
        error = exc
        if not exc.permanent:
            policy.give_back_send_slot(delivery.business_id)
    duration_ms = int((time.monotonic() - started) * 1000)
    return outcomes.attempted(
        delivery, attempt, error=error, duration_ms=duration_ms, result=result
    )


def deliveries_work(batch: outbox.Batch) -> list[Delivery]:
    """The delivery kind's work: send a claimed batch over one SMTP connection.

    Per row: cancelled if no longer wanted; deferred (no attempt) if its business is over its
    rate; failed for good if a worker kept dying on it; else one attempt. One row's failure
    never stops the rest. Returns the rows not started (out of time): the engine gives them
    back.
    """
    rows = batch.rows
    numbers = _last_attempt_numbers([row.pk for row in rows])
    suppressed = suppressions.suppressed_for(rows)
    max_attempts = DELIVERY.setting("MAX_ATTEMPTS")
    outcomes = Outcomes()
    deferred: dict[int, datetime] = {}
    left: list[Delivery] = []
    in_request = bool(current_request_id())
    try:
        with mailer.Connection() as connection:
            for index, delivery in enumerate(rows):
                if batch.out_of_time():
                    left = rows[index:]
                    break
                if connection.consecutive_unavailable >= UNAVAILABLE_TO_PAUSE:
                    # The mail server cannot take mail: the rest wait, without an attempt.
                    pause = timezone.now() + timedelta(
                        seconds=DELIVERY.setting("BACKOFF_BASE_SECONDS")
                    )
                    deferred.update({row.pk: pause for row in rows[index:]})
                    log.warning("delivery_server_unavailable", deferred=len(rows) - index)
                    batch.stop()
                    break
                # Log and write the timeline under the request that caused the email.
                origin = (
                    {}
                    if in_request or not delivery.request_id
                    else {"request_id": delivery.request_id}
                )
                with structlog.contextvars.bound_contextvars(delivery_id=delivery.pk, **origin):
                    try:
                        result = _work_one(
                            delivery,
                            connection=connection,
                            outcomes=outcomes,
                            deferred=deferred,
                            number=numbers.get(delivery.pk, 0) + 1,
                            max_attempts=max_attempts,
                            suppressed=suppressed,
                        )
                    except Exception:
                        # A bug on one row must not stop the rest: it keeps its lease and the
                        # sweeper returns it (its attempt, if started, then counts as lost).
                        log.exception("delivery_work_failed")
                        result = "error"
                batch.count(result)
                if len(outcomes) >= settings.DELIVERY_FLUSH_EVERY:
                    outcomes.write()
    finally:
        outcomes.write()
        if deferred:
            outbox.release(DELIVERY, [row for row in rows if row.pk in deferred], at=deferred)
    return left


def deliveries_interrupted(ids: list[int], *, now) -> int:
    """The sweeper took these rows back (their worker died): close their open attempts."""
    return DeliveryAttempt.objects.filter(
        delivery_id__in=ids, outcome=DeliveryAttempt.Outcome.IN_PROGRESS
    ).update(
        outcome=DeliveryAttempt.Outcome.INTERRUPTED,
        finished_at=now,
        error="worker lost while sending (lease expired)",
    )


def delivery_execute(delivery_id: int) -> str:
    """Send one delivery if it is due and nobody else holds it. Returns what happened.

    The batch path for one row (support tools, tests): safe to run any number of times, by
    any number of workers — the claim lets one through.
    """
    context: dict[str, object] = {"delivery_id": delivery_id}
    if not current_request_id():
        # Run outside a request: log under the id of the request that caused the email.
        origin = Delivery.objects.filter(pk=delivery_id).values_list("request_id", flat=True)
        origin_id = origin.first()
        if origin_id is None:
            log.warning("delivery_missing", delivery_id=delivery_id)
            return "missing"
        if origin_id:
            context["request_id"] = origin_id
    with structlog.contextvars.bound_contextvars(**context):
        rows = outbox.claim(DELIVERY, limit=1, ids=[delivery_id])
        if not rows:
            log.info("delivery_not_claimed", delivery_id=delivery_id)
            return "skipped"
        batch = outbox.Batch(
            kind=DELIVERY, rows=rows, now=timezone.now(), deadline=time.monotonic() + 3600
        )
        deliveries_work(batch)
        [(outcome, _)] = batch.stats.items()
        return outcome
