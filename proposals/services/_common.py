"""What every family of proposals' services shares: the statuses it guards, the row
lock, the activity row, text checks."""

from django.core.exceptions import ValidationError

from accounts.models import User
from proposals import rules
from proposals.models import Activity, Proposal, ProposalVersion
from proposals.timeline import activity_record

Status = Proposal.Status


EDITABLE = (Status.DRAFT, Status.SENT, Status.VIEWED)


def _activity(
    proposal: Proposal,
    kind: str,
    *,
    actor_type: str,
    actor_user: User | None = None,
    version: ProposalVersion | None = None,
    **details: object,
) -> Activity:
    return activity_record(
        business_id=proposal.business_id,
        proposal_id=proposal.pk,
        version_id=version.pk if version else None,
        kind=kind,
        actor_type=actor_type,
        actor_user=actor_user,
        details={k: v for k, v in details.items() if v not in (None, "")},
    )


def _user_actor(user: User | None) -> str:
    return Activity.Actor.USER if user is not None else Activity.Actor.SYSTEM


def _user_id(user: User | None) -> int | None:
    """Who did it, for the log line of a write without a timeline row (clients, templates,
    settings, a deleted draft): the audit trail of those writes is the log."""
    return getattr(user, "pk", None)


def _clean_text(value: str, field: str, max_length: int = rules.MAX_TEXT) -> str:
    value = value or ""
    if len(value) > max_length:
        raise ValidationError({field: rules.too_long(max_length)})
    return value


def _lock(proposal: Proposal) -> Proposal:
    # FOR NO KEY UPDATE: writers still wait for each other, but a foreign-key check (FOR KEY
    # SHARE, e.g. a delivery drain's activity rows at COMMIT) never waits for this lock, so
    # the two cannot deadlock (found by manage.py chaos: a 5xx on accept, a resent email).
    return (
        Proposal.objects.select_for_update(no_key=True)
        .select_related("business", "client")
        .get(pk=proposal.pk)
    )
