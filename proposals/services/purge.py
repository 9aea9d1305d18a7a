"""Deleting all of a business's proposals: the retention purge of an uninstalled business."""

from accounts.models import Business
from proposals.models import Acceptance, Proposal


def proposals_purge(*, business: Business) -> None:
    """Delete the business's proposals, and with them everything they own (versions, views,
    the timeline, their emails), so that the business row can be deleted next.

    Proposals protect their clients, and acceptances their versions: deleting the business
    alone would meet those protected rows in its cascade. Call inside the purge's
    transaction, with the business row locked.
    """
    Acceptance.objects.filter(business_id=business.pk).delete()
    Proposal.objects.filter(business_id=business.pk).delete()
