"""Scheduled jobs: expire proposals past their valid-until day, send reminders.

Each job works in bounded batches with one short transaction per proposal, so a backlog drains
over several runs without a giant transaction, and is idempotent: a second run (or two runs at
once) finds nothing left to do.
"""

from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Business
from proposals import rules
from proposals.delivery.services import delivery_record
from proposals.models import Activity, Delivery, Proposal, ProposalSettings, ProposalVersion
from proposals.timeline import activity_record

log = structlog.get_logger(__name__)

OPEN = (Proposal.Status.SENT, Proposal.Status.VIEWED)


def proposals_expire_due(*, now: datetime | None = None) -> int:
    """Expire open proposals whose valid-until day has ended in their business's timezone."""
    from proposals.services import proposal_expire

    now = now or timezone.now()
    # UTC+14 is the earliest zone: nothing valid until after today (UTC) can have ended yet.
    candidates = Proposal.objects.filter(
        status__in=OPEN, valid_until__isnull=False, valid_until__lte=now.date()
    ).order_by("valid_until", "pk")
    expired = 0
    cursor: tuple | None = None
    for _ in range(settings.DELIVERY_JOB_MAX_BATCHES):
        page = candidates
        if cursor is not None:
            page = page.filter(
                Q(valid_until__gt=cursor[0]) | Q(valid_until=cursor[0], pk__gt=cursor[1])
            )
        batch = list(page.select_related("business")[: settings.DELIVERY_JOB_BATCH_SIZE])
        for proposal in batch:
            expiry = rules.expires_at(proposal.valid_until, proposal.business.timezone)
            if expiry is not None and expiry <= now and proposal_expire(proposal=proposal, now=now):
                expired += 1
        if len(batch) < settings.DELIVERY_JOB_BATCH_SIZE:
            break
        cursor = (batch[-1].valid_until, batch[-1].pk)
    if expired:
        log.info("proposals_expired", count=expired)
    return expired


def _rule_days(field: str) -> tuple[int, set[int]]:
    default = ProposalSettings._meta.get_field(field).default
    configured = set(
        ProposalSettings.objects.filter(**{f"{field}__gt": 0})
        .values_list(field, flat=True)
        .distinct()
    )
    return default, configured | ({default} if default else set())


def _due_versions(rule: str, *, now: datetime):
    """Current versions of open proposals due for ``rule``, per their business's setting."""
    field = f"remind_{rule}_after_days"
    default, all_days = _rule_days(field)
    base = ProposalVersion.objects.filter(
        proposal__current_version=F("pk"),
        token_revoked_at__isnull=True,
        business__status=Business.Status.ACTIVE,
        **{f"reminded_{rule}_at__isnull": True},
    )
    if rule == "unopened":
        base = base.filter(proposal__status=Proposal.Status.SENT)
    else:
        # Not two reminders in one day when both rules come due together.
        base = base.filter(proposal__status__in=OPEN).filter(
            Q(reminded_unopened_at__isnull=True)
            | Q(reminded_unopened_at__lte=now - timedelta(days=1))
        )
    # Businesses choose their own number of days: one indexed query per distinct value.
    days_filter = Q(pk__in=[])
    for days in sorted(all_days):
        setting = Q(**{f"business__proposal_settings__{field}": days})
        if days == default:
            setting |= Q(business__proposal_settings__isnull=True)
        days_filter |= setting & Q(sent_at__lte=now - timedelta(days=days))
    return base.filter(days_filter).order_by("pk")


def _remind(version_id: int, *, rule: str, now: datetime) -> bool:
    with transaction.atomic():
        proposal = (
            Proposal.objects.select_for_update()
            .select_related("business")
            .filter(versions__pk=version_id)
            .first()
        )
        if proposal is None or proposal.status not in OPEN:
            return False
        if proposal.current_version_id != version_id:
            return False
        if rule == "unopened" and proposal.status != Proposal.Status.SENT:
            return False
        expiry = rules.expires_at(proposal.valid_until, proposal.business.timezone)
        if expiry is not None and expiry <= now:
            return False  # the expiry job will handle it
        marked = ProposalVersion.objects.filter(
            pk=version_id, token_revoked_at__isnull=True, **{f"reminded_{rule}_at__isnull": True}
        ).update(**{f"reminded_{rule}_at": now})
        if not marked:
            return False
        version = ProposalVersion.objects.get(pk=version_id)
        delivery = delivery_record(
            business=proposal.business,
            kind=Delivery.Kind.REMINDER,
            recipient=version.recipient_email,
            idempotency_key=f"reminder:{rule}:{version.pk}",
            proposal=proposal,
            version=version,
            context={"rule": rule},
        )
        activity_record(
            business_id=proposal.business_id,
            proposal_id=proposal.pk,
            version_id=version.pk,
            kind=Activity.Kind.REMINDED,
            actor_type=Activity.Actor.SYSTEM,
            details={
                "rule": rule,
                "recipient": version.recipient_email,
                "delivery_id": delivery.pk,
            },
        )
    log.info("proposal_reminded", proposal_id=proposal.pk, version_id=version_id, rule=rule)
    return True


def reminders_send_due(*, now: datetime | None = None) -> int:
    """Remind clients of proposals not opened / not answered after the business's days.

    Each rule fires at most once per version (the ``reminded_*_at`` mark is set in the same
    transaction as the reminder's delivery), never once the proposal is answered or withdrawn.
    """
    now = now or timezone.now()
    reminded = 0
    for rule in ("unopened", "unanswered"):
        last_pk = 0
        for _ in range(settings.DELIVERY_JOB_MAX_BATCHES):
            ids = list(
                _due_versions(rule, now=now)
                .filter(pk__gt=last_pk)
                .values_list("pk", flat=True)[: settings.DELIVERY_JOB_BATCH_SIZE]
            )
            for version_id in ids:
                reminded += _remind(version_id, rule=rule, now=now)
            if len(ids) < settings.DELIVERY_JOB_BATCH_SIZE:
                break
            last_pk = ids[-1]
    if reminded:
        log.info("reminders_sent", count=reminded)
    return reminded
