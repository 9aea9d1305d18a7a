"""Deleting all of a business's proposals: the retention purge of an uninstalled business."""

from django.core.files.storage import default_storage

from accounts.models import Business
from proposals.models import Acceptance, Proposal, ProposalPdf


def proposals_purge(*, business: Business) -> None:
    """Delete the business's proposals, and with them everything they own (versions, views,
    the timeline, their emails, their stored PDFs), so that the business row can be deleted
    next.

    Proposals protect their clients, and acceptances their versions: deleting the business
    alone would meet those protected rows in its cascade. Call inside the purge's
    transaction, with the business row locked.

    The PDF files go first, inside the transaction: if it rolls back, their rows remain and
    the next download finds the file missing, which re-renders it (``services.documents``);
    deleting them after the commit would leave them behind for good after a crash.
    """
    names = (
        ProposalPdf.objects.filter(business_id=business.pk)
        .exclude(file_name="")
        .values_list("file_name", flat=True)
    )
    for name in set(names):
        default_storage.delete(name)
    Acceptance.objects.filter(business_id=business.pk).delete()
    Proposal.objects.filter(business_id=business.pk).delete()
