"""The proposal page: its timeline, versions, emails and acceptance."""

from django.db.models import QuerySet
from django.http import Http404

from proposals.models import Acceptance, Activity, Delivery, Proposal, ProposalVersion
from proposals.selectors.content import proposal_content_data


def proposal_timeline(*, proposal: Proposal) -> QuerySet[Activity]:
    return (
        Activity.objects.filter(proposal=proposal, business_id=proposal.business_id)
        .select_related("actor_user", "version")
        .order_by("-created_at", "-pk")
    )


def proposal_versions(*, proposal: Proposal) -> QuerySet[ProposalVersion]:
    return ProposalVersion.objects.filter(proposal=proposal).select_related("sent_by")


def proposal_deliveries(*, proposal: Proposal) -> QuerySet[Delivery]:
    return Delivery.objects.filter(proposal=proposal, business_id=proposal.business_id).order_by(
        "-created_at", "-pk"
    )


def proposal_acceptance(*, proposal: Proposal) -> Acceptance | None:
    """An accepted proposal's acceptance with its version (the snapshot signed): one query."""
    if proposal.status != Proposal.Status.ACCEPTED:
        return None
    return acceptance_for(business_id=proposal.business_id, proposal_id=proposal.pk)


def acceptance_for(*, business_id: int, proposal_id: int) -> Acceptance | None:
    return (
        Acceptance.objects.filter(proposal_id=proposal_id, business_id=business_id)
        .select_related("version")
        .first()
    )


# What the proposal page shows of an email (and needs to offer a retry).
_PAGE_DELIVERY = ("kind", "recipient", "state", "last_error", "created_at")


def proposal_detail_context(*, proposal: Proposal) -> dict:
    """The dashboard's proposal page: the same few queries however many items or events.

    Sections and items are one query, as plain data (the totals come from the same rows);
    versions and the timeline leave the frozen snapshots in the database (the page shows
    version numbers).
    """
    sections, totals = proposal_content_data(proposal=proposal)
    return {
        "sections": sections,
        "totals": totals,
        "versions": _page_versions(proposal),
        "timeline": list(proposal_timeline(proposal=proposal).defer("version__snapshot")[:200]),
        "deliveries": list(proposal_deliveries(proposal=proposal).only(*_PAGE_DELIVERY)[:50]),
        "acceptance": proposal_acceptance(proposal=proposal),
    }


def _page_versions(proposal: Proposal) -> list[ProposalVersion]:
    """The versions sent, newest first; no query for a draft or a proposal sent once.

    Versions are numbered 1, 2, … as they are sent and the current one is the last sent
    (``proposal_send``), so a current version numbered 1 is the only one. Read with
    ``proposal_get(with_sender=True)``, it carries everything the page shows of it.
    """
    current = proposal.current_version
    if current is None:
        return []
    if current.number == 1:
        return [current]
    return list(proposal_versions(proposal=proposal).defer("snapshot"))


def proposal_version_get(*, business_id: int, proposal_pk: int, number: int) -> ProposalVersion:
    """One sent version of one of the business's proposals, by its number (404 otherwise)."""
    version = ProposalVersion.objects.filter(
        business_id=business_id, proposal_id=proposal_pk, number=number
    ).first()
    if version is None:
        raise Http404("No such version.")
    return version
