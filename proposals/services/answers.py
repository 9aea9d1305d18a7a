"""The client's side: a view of the link, an acceptance, a decline (each tells the owner)."""

import structlog
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from proposals import reminders, rules, schedule, signals
from proposals.delivery.services import deliveries_cancel_open, delivery_record
from proposals.models import Acceptance, Activity, Delivery, Proposal, ProposalVersion, ProposalView
from proposals.selectors import owner_email_for
from proposals.services._common import (
    Status,
    _activity,
    _clean_text,
    _lock,
)
from proposals.services.errors import TransitionError

log = structlog.get_logger(__name__)


def proposal_mark_viewed(*, version: ProposalVersion, ip: str | None, user_agent: str) -> bool:
    """Log a client's view; the first view of the current version moves sent → viewed.

    Every later view is the view record alone: one INSERT, no transaction around it. The
    proposal the version was read with decides: a proposal that is not "sent" with this
    version current can never become so again for this version (sending anew makes a new
    version), so nothing is missed; one that is goes through the guarded UPDATE as before.
    """
    view = ProposalView(
        version=version,
        proposal_id=version.proposal_id,
        business_id=version.business_id,
        ip=ip,
        user_agent=(user_agent or "")[:500],
    )
    proposal = version.proposal
    if proposal.status != Status.SENT or proposal.current_version_id != version.pk:
        view.save(force_insert=True)
        return False
    with transaction.atomic():
        view.save(force_insert=True)
        now = timezone.now()
        moved = Proposal.objects.filter(
            pk=version.proposal_id, status=Status.SENT, current_version=version
        ).update(
            status=Status.VIEWED,
            viewed_at=now,
            revision=F("revision") + 1,
            **reminders.due_cleared("unopened"),
        )
        if moved:
            proposal = Proposal.objects.select_related("business").get(pk=version.proposal_id)
            _activity(
                proposal, Activity.Kind.VIEWED, actor_type=Activity.Actor.CLIENT, version=version
            )
            _notify_owner(proposal, Delivery.Kind.OWNER_VIEWED, version)
    return bool(moved)


def _notify_owner(
    proposal: Proposal, kind: str, version: ProposalVersion, **context: object
) -> None:
    recipient = owner_email_for(proposal.business)
    if not recipient:
        log.warning("owner_notification_skipped", proposal_id=proposal.pk, reason="no owner email")
        return
    delivery_record(
        business=proposal.business,
        kind=kind,
        recipient=recipient,
        idempotency_key=f"{kind}:{proposal.pk}:{version.pk}",
        proposal=proposal,
        version=version,
        context={k: v for k, v in context.items() if v},
    )


# Why a version cannot be answered (ProposalVersion.answer_state), as the service says it.
_REFUSALS = {
    "unavailable": "This proposal cannot be answered.",
    "withdrawn": "This proposal was withdrawn and can no longer be answered.",
    "accepted": "This proposal was already accepted.",
    "declined": "This proposal was already declined.",
    "superseded": "A newer version of this proposal was sent; open the latest link.",
    "expired": "This proposal has expired and can no longer be answered.",
}


def _answerable(version: ProposalVersion) -> Proposal:
    """Lock the proposal and refuse unless this version can still be answered."""
    proposal = _lock(version.proposal)
    state = version.answer_state(proposal=proposal, now=timezone.now())
    if state != "open":
        raise TransitionError(_REFUSALS[state])
    return proposal


def proposal_accept(
    *,
    version: ProposalVersion,
    signed_name: str,
    agreed: bool,
    selected_item_keys: list[str] | set[str],
    ip: str | None,
    user_agent: str,
) -> Acceptance:
    signed_name = (signed_name or "").strip()
    errors = {}
    if not signed_name:
        errors["signed_name"] = "Type your full name to sign."
    elif len(signed_name) > rules.MAX_NAME:
        errors["signed_name"] = rules.too_long(rules.MAX_NAME)
    if not agreed:
        errors["agreed"] = "Tick the box to confirm you agree."
    optional_keys = {
        item["key"]
        for section in version.snapshot.get("sections", [])
        for item in section["items"]
        if item["optional"]
    }
    selected = {str(key) for key in selected_item_keys or []}
    if not selected <= optional_keys:
        errors["selected_items"] = "Some selected items are not part of this proposal."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        proposal = _answerable(version)
        totals = rules.snapshot_totals(version.snapshot, selected)
        now = timezone.now()
        payments = [
            part.as_dict()
            for part in schedule.resolve_schedule(
                version.snapshot.get("payment_schedule") or [],
                total=totals.total,
                currency=totals.currency,
                accepted_on=rules.business_today(proposal.business.timezone, now),
            )
        ]
        accepted_content = {
            "snapshot": version.snapshot,
            "selected_item_keys": sorted(selected),
            "total": str(totals.total),
        }
        if payments:  # the amounts and days agreed are part of what was signed
            accepted_content["payment_schedule"] = payments
        acceptance = Acceptance.objects.create(
            proposal=proposal,
            version=version,
            business_id=proposal.business_id,
            signed_name=signed_name,
            email=version.recipient_email,
            ip=ip,
            user_agent=(user_agent or "")[:500],
            accepted_at=now,
            selected_item_keys=sorted(selected),
            total=totals.total,
            content_hash=rules.canonical_hash(accepted_content),
            payment_schedule=payments,
        )
        # From now on the proposal is worth what was signed: lists, the API's ``total`` and
        # the admin read this column, so it carries the optional items the client chose.
        Proposal.objects.filter(pk=proposal.pk).update(
            status=Status.ACCEPTED, answered_at=now, revision=F("revision") + 1,
            total=totals.total, **reminders.due_cleared(),
        )  # fmt: skip
        proposal.refresh_from_db()
        _activity(
            proposal,
            Activity.Kind.ACCEPTED,
            actor_type=Activity.Actor.CLIENT,
            version=version,
            signed_name=signed_name,
            total=str(totals.total),
        )
        deliveries_cancel_open(proposal_ids=[proposal.pk], now=now)
        delivery_record(
            business=proposal.business,
            kind=Delivery.Kind.ACCEPTANCE_CONFIRMATION,
            recipient=version.recipient_email,
            idempotency_key=f"acceptance_confirmation:{proposal.pk}",
            proposal=proposal,
            version=version,
        )
        _notify_owner(
            proposal,
            Delivery.Kind.OWNER_ACCEPTED,
            version,
            signed_name=signed_name,
            total=str(totals.total),
            currency=version.snapshot.get("currency", ""),
            chosen_options=[
                item["name"]
                for section in version.snapshot.get("sections", [])
                for item in section["items"]
                if item["optional"] and item["key"] in selected
            ],
        )
        signals.proposal_accepted.send(sender=Proposal, proposal=proposal)
    log.info("proposal_accepted", proposal_id=proposal.pk, version_id=version.pk)
    return acceptance


def proposal_decline(
    *, version: ProposalVersion, reason: str, ip: str | None, user_agent: str
) -> Proposal:
    reason = _clean_text(reason, "reason", rules.MAX_MESSAGE).strip()
    with transaction.atomic():
        proposal = _answerable(version)
        now = timezone.now()
        Proposal.objects.filter(pk=proposal.pk).update(
            status=Status.DECLINED, answered_at=now, decline_reason=reason,
            revision=F("revision") + 1, **reminders.due_cleared(),
        )  # fmt: skip
        proposal.refresh_from_db()
        _activity(
            proposal,
            Activity.Kind.DECLINED,
            actor_type=Activity.Actor.CLIENT,
            version=version,
            reason=reason,
            ip=ip,
        )
        deliveries_cancel_open(proposal_ids=[proposal.pk], now=now)
        _notify_owner(proposal, Delivery.Kind.OWNER_DECLINED, version, reason=reason)
    log.info("proposal_declined", proposal_id=proposal.pk, version_id=version.pk)
    return proposal
