"""A proposal's life after the editor: send a version, withdraw it, expire it."""

import secrets
from datetime import datetime

import structlog
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Business, User
from proposals import reminders, rules, schedule, signals
from proposals.delivery.jobs import proposals_expire
from proposals.delivery.services import deliveries_cancel_open, delivery_record
from proposals.models import Activity, Delivery, Proposal, ProposalVersion
from proposals.selectors import (
    proposal_snapshot,
    send_limit_for,
    sends_this_month,
    working_copy_sections,
)
from proposals.services._common import (
    EDITABLE,
    Status,
    _activity,
    _clean_text,
    _lock,
    _user_actor,
)
from proposals.services.errors import (
    ConcurrentEditError,
    PlanLimitReached,
    ProposalLocked,
    TransitionError,
)

log = structlog.get_logger(__name__)


def proposal_send(
    *,
    proposal: Proposal,
    acting_user: User | None,
    message: str = "",
    expected_revision: int | None = None,
) -> ProposalVersion:
    """Freeze the working copy as a new version and record the email to the client.

    ``expected_revision`` is the revision the sender saw: a double-clicked or replayed send
    of an unchanged proposal is refused instead of sending a second version.
    """
    message = _clean_text(message, "message", rules.MAX_MESSAGE).strip()
    with transaction.atomic():
        locked = _lock(proposal)
        if expected_revision is not None and locked.revision != expected_revision:
            raise ConcurrentEditError(
                "This proposal changed since the page was loaded (was it already sent?); "
                "reload it and try again."
            )
        business = Business.objects.select_for_update(no_key=True).get(pk=locked.business_id)
        if locked.is_locked:
            raise ProposalLocked("An accepted proposal can no longer be sent again.")
        if locked.status not in EDITABLE:
            raise TransitionError(
                f"A {locked.get_status_display().lower()} proposal cannot be sent; duplicate it."
            )
        if not business.is_active:
            raise TransitionError("The app is uninstalled for this site; reinstall it to send.")
        if not locked.client.email:
            raise ValidationError({"client": "The client has no email address."})
        expiry = rules.expires_at(locked.valid_until, business.timezone)
        if expiry is not None and expiry <= timezone.now():
            raise ValidationError({"valid_until": "The valid-until date has already passed."})
        sections = working_copy_sections(locked)
        if not any(section["items"] for section in sections):
            raise ValidationError({"sections": "Add at least one line item before sending."})
        # Checked again as it is frozen: a due date may have passed since it was written.
        schedule.clean_schedule(
            locked.payment_schedule,
            currency=locked.currency,
            sections=sections,
            today=rules.business_today(business.timezone),
        )
        first_send = locked.current_version_id is None
        limit = send_limit_for(business)
        if first_send and limit is not None and sends_this_month(business) >= limit:
            raise PlanLimitReached(
                f"Your free plan allows {limit} proposals a month and they are all sent. "
                "Upgrade to send more."
            )
        number = ProposalVersion.objects.filter(proposal=locked).count() + 1
        snapshot = proposal_snapshot(proposal=locked, sections=sections)
        now = timezone.now()
        version = ProposalVersion.objects.create(
            proposal=locked,
            business=business,
            number=number,
            snapshot=snapshot,
            content_hash=rules.canonical_hash(snapshot),
            token=secrets.token_urlsafe(32),
            recipient_email=locked.client.email,
            message=message,
            sent_by=acting_user,
            sent_at=now,
        )
        Proposal.objects.filter(pk=locked.pk).update(
            status=Status.SENT,
            current_version=version,
            sent_valid_until=locked.valid_until,
            has_unsent_changes=False,
            sent_at=now,
            revision=F("revision") + 1,
            **reminders.due_times(business_id=business.pk, sent_at=now),
        )
        locked.refresh_from_db()
        _activity(
            locked,
            Activity.Kind.SENT,
            actor_type=_user_actor(acting_user),
            actor_user=acting_user,
            version=version,
            version_number=number,
            recipient=version.recipient_email,
        )
        delivery_record(
            business=business,
            kind=Delivery.Kind.PROPOSAL,
            recipient=version.recipient_email,
            idempotency_key=f"proposal:{version.pk}",
            proposal=locked,
            version=version,
            context={"message": message},
        )
        signals.proposal_sent.send(sender=Proposal, proposal=locked)
    log.info("proposal_sent", proposal_id=locked.pk, version=number)
    return version


def proposal_withdraw(*, proposal: Proposal, acting_user: User | None) -> Proposal:
    with transaction.atomic():
        locked = _lock(proposal)
        if not locked.is_open:
            raise TransitionError(
                f"Only a sent proposal can be withdrawn; this one is "
                f"{locked.get_status_display().lower()}."
            )
        now = timezone.now()
        locked.status = Status.WITHDRAWN
        locked.withdrawn_at = now
        locked.revision = F("revision") + 1
        locked.remind_unopened_due_at = locked.remind_unanswered_due_at = None
        locked.save(
            update_fields=[
                "status", "withdrawn_at", "revision", "updated_at",
                "remind_unopened_due_at", "remind_unanswered_due_at",
            ]
        )  # fmt: skip
        ProposalVersion.objects.filter(proposal=locked, token_revoked_at__isnull=True).update(
            token_revoked_at=now
        )
        cancelled = deliveries_cancel_open(proposal_ids=[locked.pk], now=now)
        _activity(
            locked,
            Activity.Kind.WITHDRAWN,
            actor_type=_user_actor(acting_user),
            actor_user=acting_user,
            cancelled_deliveries=cancelled or None,
        )
        locked.refresh_from_db()
        version = locked.current_version
        assert version is not None  # an open proposal was sent, so it has a version
        # The client has the link (it was sent): they hear that it no longer stands.
        delivery_record(
            business=locked.business,
            kind=Delivery.Kind.CLIENT_WITHDRAWN,
            recipient=version.recipient_email,
            idempotency_key=f"{Delivery.Kind.CLIENT_WITHDRAWN}:{locked.pk}:{version.pk}",
            proposal=locked,
            version=version,
        )
    log.info("proposal_withdrawn", proposal_id=locked.pk)
    return locked


def proposal_expire(*, proposal: Proposal, now: datetime | None = None) -> bool:
    """Expire an open proposal past its valid-until day; False when there is nothing to do.

    The scheduled job's batch path for one proposal (``proposals.delivery.jobs``), so the two
    can never disagree about what expiring does.
    """
    now = now or timezone.now()
    with transaction.atomic():
        expired = proposals_expire(proposals=[_lock(proposal)], now=now)
    if expired:
        log.info("proposal_expired", proposal_id=proposal.pk)
    return bool(expired)
