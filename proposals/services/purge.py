"""Deleting all of a business's proposals: the retention purge of an uninstalled business."""

from collections.abc import Collection

from django.core.files.storage import default_storage

from proposals import branding
from proposals.models import Acceptance, Activity, Delivery, Proposal, ProposalPdf


def proposals_purge(*, business_ids: Collection[int]) -> None:
    """Delete these businesses' proposals, and with them everything they own (versions, views,
    the timeline, their emails, their stored PDFs and logos), so that the business rows can be
    deleted next.

    Proposals protect their clients, and acceptances their versions: deleting the businesses
    alone would meet those protected rows in their cascade. Call inside the purge's
    transaction, with the business rows locked. The queries are one per owned table whatever
    the number of businesses (Django's cascade over ``IN`` lists).

    The files go first, inside the transaction: if it rolls back, their rows remain and the
    next download finds the PDF missing, which re-renders it (``services.documents``);
    deleting them after the commit would leave them behind for good after a crash.
    """
    names = (
        ProposalPdf.objects.filter(business_id__in=business_ids)
        .exclude(file_name="")
        .values_list("file_name", flat=True)
    )
    for name in set(names):
        default_storage.delete(name)
    for business_id in business_ids:
        branding.logos_delete(business_id=business_id)
    # Emails and the timeline point at versions with SET_NULL: deleted with the proposals, the
    # cascade would first UPDATE every one of them (rows it then deletes). Deleted first, by
    # the business, that UPDATE finds nothing.
    Activity.objects.filter(business_id__in=business_ids).delete()
    Delivery.objects.filter(business_id__in=business_ids).delete()
    Acceptance.objects.filter(business_id__in=business_ids).delete()
    Proposal.objects.filter(business_id__in=business_ids).delete()
