"""Scheduled jobs: expire proposals past their valid-until day, send reminders.

Both work set-based, in bounded batches of ``DELIVERY_JOB_BATCH_SIZE`` with one short
transaction per batch and a constant number of queries per batch whatever its size: one
``SELECT … FOR UPDATE SKIP LOCKED`` of the due proposals through a partial index on what is due
(``proposal_open_expiry_idx``, ``proposal_*_due_idx``), the decisions made in Python, then one
UPDATE or bulk INSERT per kind of write. ``SKIP LOCKED`` lets two runs (or a run and a client
answering) work side by side without waiting or doing anything twice; SQLite (development) has
no row locks and serialises writers instead. A run stops after ``DELIVERY_JOB_MAX_BATCHES``.
"""

from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import (
    Case,
    DateTimeField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from accounts.models import Business
from accounts.selectors import owner_emails_for
from common import outbox
from common.request_id import current_request_id
from proposals import rules
from proposals.delivery.kind import DELIVERY
from proposals.delivery.services import deliveries_cancel_open
from proposals.models import Activity, Delivery, Proposal, ProposalVersion
from proposals.reminders import due_cleared

log = structlog.get_logger(__name__)

ONE_DAY = timedelta(days=1)


# What the jobs decide with: only these columns are read (not the texts and the snapshot).
_BATCH_FIELDS = (
    "id",
    "business_id",
    "status",
    "sent_valid_until",
    "current_version_id",
    "business__status",
    "business__timezone",
    "business__owner_email",
    "current_version__recipient_email",
    "current_version__token_revoked_at",
    "current_version__reminded_unopened_at",
    "current_version__reminded_unanswered_at",
)


def _locked_batch(queryset, *, size: int) -> list[Proposal]:
    """Take up to ``size`` rows of ``queryset``, skipping rows another transaction holds."""
    return list(
        queryset.select_for_update(skip_locked=True, of=("self",))
        .select_related("business", "current_version")
        .only(*_BATCH_FIELDS)[:size]
    )


# --- expiry --------------------------------------------------------------------------------


def proposals_expire(*, proposals: list[Proposal], now: datetime) -> list[Proposal]:
    """Expire those of ``proposals`` (locked by the caller) whose valid-until day has ended.

    Call inside a transaction holding the rows' locks. The same queries whatever the number:
    the status UPDATE, the cancelled deliveries, the timeline rows and the owners' emails (one
    bulk INSERT each), and the owner addresses of businesses without an owner email.
    """
    due = [
        proposal
        for proposal in proposals
        if proposal.status in Proposal.OPEN_STATUSES
        and (expiry := rules.expires_at(proposal.sent_valid_until, proposal.business.timezone))
        and expiry <= now
    ]
    if not due:
        return []
    ids = [proposal.pk for proposal in due]
    Proposal.objects.filter(pk__in=ids, status__in=Proposal.OPEN_STATUSES).update(
        status=Proposal.Status.EXPIRED,
        expired_at=now,
        revision=F("revision") + 1,
        updated_at=now,
        **due_cleared(),
    )
    cancelled = deliveries_cancel_open(proposal_ids=ids, now=now)
    request_id = current_request_id() or ""
    activities = []
    for proposal in due:
        assert proposal.sent_valid_until is not None  # a proposal without one never expires
        activities.append(
            Activity(
                business_id=proposal.business_id,
                proposal_id=proposal.pk,
                version_id=proposal.current_version_id,
                kind=Activity.Kind.EXPIRED,
                actor_type=Activity.Actor.SYSTEM,
                details={"valid_until": proposal.sent_valid_until.isoformat()},
                request_id=request_id,
            )
        )
    Activity.objects.bulk_create(activities)
    _notify_owners_of_expiry(due, request_id=request_id, now=now)
    for proposal in due:
        proposal.status = Proposal.Status.EXPIRED
        proposal.expired_at = now
    log.info("proposals_expired_batch", proposal_ids=ids, cancelled_deliveries=cancelled)
    return due


def _notify_owners_of_expiry(due: list[Proposal], *, request_id: str, now: datetime) -> None:
    """The owner hears that each proposal expired unanswered: one email each (at most two
    queries: the owners without an owner email, one bulk INSERT; a repeat inserts nothing)."""
    owners = owner_emails_for(businesses={p.business_id: p.business for p in due}.values())
    kind = Delivery.Kind.OWNER_EXPIRED
    rows = [
        Delivery(
            business_id=p.business_id,
            kind=kind,
            recipient=owners[p.business_id],
            idempotency_key=f"{kind}:{p.pk}:{p.current_version_id}",
            proposal_id=p.pk,
            version_id=p.current_version_id,
            request_id=request_id,
            next_attempt_at=now,
        )
        for p in due
        if owners[p.business_id]
    ]
    if rows:
        Delivery.objects.bulk_create(rows, ignore_conflicts=True)
        outbox.record_on_commit(DELIVERY)


def proposals_expire_due(*, now: datetime | None = None) -> int:
    """Expire open proposals whose valid-until day has ended in their business's timezone."""
    now = now or timezone.now()
    size = settings.DELIVERY_JOB_BATCH_SIZE
    # UTC+14 is the earliest zone: nothing valid until after today (UTC) can have ended yet.
    # The filter matches ``proposal_open_expiry_idx`` (open, with a valid-until) exactly.
    candidates = Proposal.objects.filter(
        status__in=Proposal.OPEN_STATUSES,
        sent_valid_until__isnull=False,
        sent_valid_until__lte=now.date(),
    ).order_by("sent_valid_until", "pk")
    expired = 0
    cursor: tuple | None = None
    for _ in range(settings.DELIVERY_JOB_MAX_BATCHES):
        page = candidates
        if cursor is not None:
            # Rows of the last day or two not yet over in their zone are stepped over, not
            # read again by every batch.
            page = page.filter(
                Q(sent_valid_until__gt=cursor[0]) | Q(sent_valid_until=cursor[0], pk__gt=cursor[1])
            )
        with transaction.atomic():
            batch = _locked_batch(page, size=size)
            expired += len(proposals_expire(proposals=batch, now=now))
        if len(batch) < size:
            break
        cursor = (batch[-1].sent_valid_until, batch[-1].pk)
    if expired:
        log.info("proposals_expired", count=expired)
    return expired


# --- reminders -----------------------------------------------------------------------------


def _reminder_decision(proposal: Proposal, *, rule: str, now: datetime) -> str:
    """``remind``, ``defer`` (not two reminders in one day) or ``drop`` (can no longer fire)."""
    version = proposal.current_version
    if version is None or not proposal.is_open or version.token_revoked_at is not None:
        return "drop"
    if rule == "unopened" and proposal.status != Proposal.Status.SENT:
        return "drop"
    if getattr(version, f"reminded_{rule}_at") is not None:
        return "drop"
    if proposal.business.status != Business.Status.ACTIVE:
        return "drop"
    expiry = rules.expires_at(proposal.sent_valid_until, proposal.business.timezone)
    if expiry is not None and expiry <= now:
        return "drop"  # the expiry job will handle it
    if (
        rule == "unanswered"
        and version.reminded_unopened_at is not None
        and version.reminded_unopened_at > now - ONE_DAY
    ):
        return "defer"
    return "remind"


def _clear_due(proposals: list[Proposal], *, rule: str, now: datetime | None) -> None:
    """Clear ``rule``'s due time; with ``now``, after an unopened reminder went out then, the
    unanswered rule waits a day (not two reminders in one day). One UPDATE."""
    if not proposals:
        return
    updates: dict = due_cleared(rule)
    if rule == "unopened" and now is not None:
        updates["remind_unanswered_due_at"] = Case(
            When(remind_unanswered_due_at__lt=now + ONE_DAY, then=Value(now + ONE_DAY)),
            default=F("remind_unanswered_due_at"),
        )
    Proposal.objects.filter(pk__in=[p.pk for p in proposals]).update(**updates)


def _remind_batch(rule: str, *, now: datetime, size: int) -> tuple[int, int]:
    """One batch of ``rule``: returns (rows taken, reminders recorded). Constant queries."""
    due_field = f"remind_{rule}_due_at"
    mark_field = f"reminded_{rule}_at"
    with transaction.atomic():
        batch = _locked_batch(
            Proposal.objects.filter(**{f"{due_field}__lte": now}).order_by(due_field, "pk"),
            size=size,
        )
        decided: dict[str, list[Proposal]] = {"remind": [], "defer": [], "drop": []}
        for proposal in batch:
            decided[_reminder_decision(proposal, rule=rule, now=now)].append(proposal)
        remind = decided["remind"]
        # Each row is written once (every write to a due time touches all the table's
        # indexes): the reminded ones, and those that can no longer fire.
        _clear_due(remind, rule=rule, now=now)
        _clear_due(decided["drop"], rule=rule, now=None)
        if decided["defer"]:
            # A day after the unopened reminder went out (each row its own time, one UPDATE).
            reminded_at = ProposalVersion.objects.filter(pk=OuterRef("current_version_id")).values(
                "reminded_unopened_at"
            )[:1]
            Proposal.objects.filter(pk__in=[p.pk for p in decided["defer"]]).update(
                remind_unanswered_due_at=ExpressionWrapper(
                    Subquery(reminded_at) + ONE_DAY, output_field=DateTimeField()
                )
            )
        if not remind:
            return len(batch), 0
        versions = []
        for p in remind:
            assert p.current_version is not None  # _reminder_decision drops one without
            versions.append(p.current_version)
        version_ids = [version.pk for version in versions]
        # The proposal rows are locked and only this job sets the marks: this matches all.
        ProposalVersion.objects.filter(
            pk__in=version_ids, **{f"{mark_field}__isnull": True}
        ).update(**{mark_field: now})
        request_id = current_request_id() or ""
        recorded_at = timezone.now()
        deliveries = Delivery.objects.bulk_create(
            [
                Delivery(
                    business_id=p.business_id,
                    kind=Delivery.Kind.REMINDER,
                    recipient=version.recipient_email,
                    idempotency_key=f"reminder:{rule}:{p.current_version_id}",
                    proposal_id=p.pk,
                    version_id=p.current_version_id,
                    context={"rule": rule},
                    request_id=request_id,
                    next_attempt_at=recorded_at,
                )
                for p, version in zip(remind, versions, strict=True)
            ]
        )
        Activity.objects.bulk_create(
            [
                Activity(
                    business_id=p.business_id,
                    proposal_id=p.pk,
                    version_id=p.current_version_id,
                    kind=Activity.Kind.REMINDED,
                    actor_type=Activity.Actor.SYSTEM,
                    details={
                        "rule": rule,
                        "recipient": version.recipient_email,
                        "delivery_id": delivery.pk,
                    },
                    request_id=request_id,
                )
                for p, version, delivery in zip(remind, versions, deliveries, strict=True)
            ]
        )
        # The rows are the record; one drain on commit is the fast path (the sweeper covers
        # a lost one).
        outbox.record_on_commit(DELIVERY)
    log.info(
        "proposals_reminded",
        rule=rule,
        proposal_ids=[p.pk for p in remind],
        deferred=len(decided["defer"]),
        dropped=len(decided["drop"]),
    )
    return len(batch), len(remind)


def reminders_send_due(*, now: datetime | None = None) -> int:
    """Remind clients of proposals not opened / not answered after the business's days.

    Each rule fires at most once per version (the ``reminded_*_at`` mark is set in the same
    transaction as the reminder's delivery), never once the proposal is answered, withdrawn or
    expired, and never on the same day as the other rule.
    """
    now = now or timezone.now()
    size = settings.DELIVERY_JOB_BATCH_SIZE
    reminded = 0
    for rule in ("unopened", "unanswered"):
        for _ in range(settings.DELIVERY_JOB_MAX_BATCHES):
            taken, sent = _remind_batch(rule, now=now, size=size)
            reminded += sent
            if taken < size:
                break
    if reminded:
        log.info("reminders_sent", count=reminded)
    return reminded
