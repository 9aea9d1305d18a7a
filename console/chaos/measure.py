"""What a phase of the run did, counted from the database, the SMTP server's log and the load.

Emails are counted per delivery row of the phase's businesses, by Message-ID (the one the
product gives each delivery and keeps across retries):

- *received*: rows whose Message-ID the SMTP server accepted;
- *failed*: rows the product gave up on (permanent failure), each with the reason it shows;
- *lost*: every other row (sent or not, it never reached the server), after the backlog wait;
- *duplicated*: arrivals of a Message-ID beyond its first. After a worker was SIGKILLed a
  second arrival is *allowed* when the first was accepted before the kill, same Message-ID
  (the worker died before it could record the send; README "Decisions worth knowing").
"""

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.db import DatabaseError, close_old_connections, connection
from django.db.models import Min, Q
from django_q.models import OrmQ

from common.smtp_sink import parse_log
from integrations.models import WebhookReceipt, WixContactSync
from proposals.delivery.mailer import message_id_for
from proposals.models import Delivery, Proposal

SYNC_OPEN = (WixContactSync.Status.PENDING, WixContactSync.Status.RUNNING)
RECEIPT_OPEN = (WebhookReceipt.Status.PENDING, WebhookReceipt.Status.PROCESSING)


def accepted_by_server(log_path: Path) -> dict[str, list[float]]:
    """Message-ID → the times the SMTP server accepted it."""
    if not log_path.exists():
        return {}
    arrivals: dict[str, list[float]] = defaultdict(list)
    with open(log_path) as log_file:
        for accepted_at, message_id, _ in parse_log(log_file.readlines()):
            arrivals[message_id].append(accepted_at)
    return arrivals


@dataclass
class EmailCount:
    expected: int = 0
    received: int = 0
    lost: int = 0
    # Still in the outbox when counted (pending, sending, retrying): late if the backlog did not
    # drain, not lost — a lost email is one the product holds as done that never arrived.
    queued: int = 0
    failed: int = 0
    failed_without_reason: int = 0
    bounced: int = 0  # received, then reported bounced by the mail service
    duplicates: int = 0
    allowed_repeats: int = 0
    lost_ids: list[int] = field(default_factory=list)
    failed_reasons: dict[str, int] = field(default_factory=dict)


def lost_cell(count: EmailCount) -> str:
    """The report's "lost" cell: the lost, and those still queued when counted."""
    return f"{count.lost}" + (f" (+{count.queued} still queued)" if count.queued else "")


def count_emails(
    *,
    business_ids: list[int],
    arrivals: Callable[[], dict[str, list[float]]],
    kill_times: list[float],
) -> EmailCount:
    """Count the rows' states first, then read ``arrivals()``: a row marked sent after its
    state was read has already arrived by then, so work still going is never counted lost."""
    count = EmailCount()
    rows = list(
        Delivery.objects.filter(business_id__in=business_ids).only(
            "pk", "idempotency_key", "message_id", "state", "last_error"
        )
    )
    arrived = arrivals()
    for delivery in rows:
        count.expected += 1
        times = sorted(arrived.get(delivery.message_id or message_id_for(delivery), []))
        if times:
            count.received += 1
            if delivery.state == Delivery.State.BOUNCED:
                count.bounced += 1
                reason = (delivery.last_error or "").strip()
                if not reason:
                    count.failed_without_reason += 1
            extra = len(times) - 1
            # A repeat is allowed once, for a message accepted before a kill it straddles.
            if extra == 1 and any(times[0] <= kill <= times[1] for kill in kill_times):
                count.allowed_repeats += 1
            else:
                count.duplicates += extra
        elif delivery.state == Delivery.State.FAILED_PERMANENT:
            count.failed += 1
            reason = (delivery.last_error or "").strip()
            if not reason:
                count.failed_without_reason += 1
            count.failed_reasons[reason or "(none)"] = count.failed_reasons.get(reason, 0) + 1
        elif delivery.state == Delivery.State.CANCELLED:
            count.expected -= 1  # withdrawn before it went out: never owed
        elif delivery.state not in Delivery.FINAL_STATES:
            count.queued += 1
        else:
            count.lost += 1
            count.lost_ids.append(delivery.pk)
    return count


def backlog(business_ids: list[int], *, since: datetime) -> dict[str, int]:
    """Work of these businesses not finished yet, and proposals still waiting for an answer."""
    return {
        "emails": Delivery.objects.filter(business_id__in=business_ids)
        .exclude(state__in=Delivery.FINAL_STATES)
        .count(),
        "contact syncs": WixContactSync.objects.filter(
            business_id__in=business_ids, status__in=SYNC_OPEN
        ).count(),
        "webhooks": WebhookReceipt.objects.filter(
            business_id__in=business_ids, status__in=RECEIPT_OPEN
        ).count(),
        # Sent, the email accepted, not answered yet: the client has yet to read it.
        "unanswered": Proposal.objects.filter(
            business_id__in=business_ids,
            status__in=Proposal.OPEN_STATUSES,
            deliveries__kind=Delivery.Kind.PROPOSAL,
            deliveries__state=Delivery.State.SENT,
        )
        .distinct()
        .count(),
    }


def contact_syncs_failed(business_ids: list[int]) -> int:
    return WixContactSync.objects.filter(
        business_id__in=business_ids, status=WixContactSync.Status.FAILED
    ).count()


def oldest_age(business_ids: list[int], *, since: datetime) -> float:
    """Seconds the oldest unfinished item of these businesses (or task) has waited."""
    now = datetime.now(UTC)
    oldest = [
        Delivery.objects.filter(business_id__in=business_ids)
        .exclude(state__in=Delivery.FINAL_STATES)
        .aggregate(m=Min("created_at"))["m"],
        WixContactSync.objects.filter(business_id__in=business_ids, status__in=SYNC_OPEN)
        .filter(Q(created_at__gte=since) | Q(updated_at__gte=since))
        .aggregate(m=Min("updated_at"))["m"],
        OrmQ.objects.filter(lock__lte=now).aggregate(m=Min("lock"))["m"],
    ]
    ages = [(now - max(moment, since)).total_seconds() for moment in oldest if moment]
    return max(ages, default=0.0)


class Sampler:
    """Samples the oldest waiting item every second (a database error is a sample missed)."""

    def __init__(self) -> None:
        self.business_ids: list[int] = []
        self.since = datetime.now(UTC)
        self.largest = 0.0
        self.missed = 0

    def reset(self, business_ids: list[int]) -> None:
        self.business_ids = list(business_ids)
        self.since = datetime.now(UTC)
        self.largest = 0.0
        self.missed = 0

    def sample(self) -> None:
        try:
            age = oldest_age(self.business_ids, since=self.since)
        except DatabaseError:
            self.missed += 1
            connection.close()
            return
        self.largest = max(self.largest, age)


def safe(query, *, default, attempts: int = 30):
    """Run a read; through a PostgreSQL restart, close the dead connection and try again."""
    for _ in range(attempts):
        try:
            return query()
        except DatabaseError:
            connection.close()
            close_old_connections()
            time.sleep(1)
    return default
