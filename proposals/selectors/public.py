"""The client's page: a version by its token, and what the link shows."""

from django.utils import timezone

from common.money import Totals
from proposals import rules
from proposals.models import ProposalVersion


def version_by_token(*, token: str) -> ProposalVersion | None:
    if not token or len(token) > 64:
        return None
    # One query: the token is unique (no ORDER BY), and the business is joined once, through
    # the proposal (the version's own business is the same row).
    version = next(
        iter(
            ProposalVersion.objects.select_related("proposal", "proposal__business")
            .filter(token=token)
            .order_by()[:1]
        ),
        None,
    )
    if version is not None:
        version.business = version.proposal.business
    return version


def public_page_state(*, version: ProposalVersion) -> str:
    """What the client sees for this link: open, or why it cannot be answered."""
    return version.answer_state(proposal=version.proposal, now=timezone.now())


def version_totals(*, version: ProposalVersion, selected_keys: set[str] | None = None) -> Totals:
    return rules.snapshot_totals(version.snapshot, selected_keys)


def newer_version_for(*, version: ProposalVersion) -> ProposalVersion | None:
    """The proposal's current version, for the page of an older one to link to.

    Only when it went to the same address: a link holder never reaches a version that was
    sent to someone else (the client's email changed between the sends).
    """
    current_id = version.proposal.current_version_id
    if current_id is None or current_id == version.pk:
        return None
    newer = (
        ProposalVersion.objects.filter(pk=current_id, token_revoked_at__isnull=True)
        .only("pk", "number", "token", "recipient_email", "sent_at")
        .first()
    )
    if newer is None or newer.recipient_email.lower() != version.recipient_email.lower():
        return None
    return newer
