"""A business's templates, its proposal settings and its owner's address."""

from collections.abc import Collection

from django.db.models import Count, QuerySet

from accounts.models import Business
from accounts.scoping import get_for_business_or_404, scoped
from accounts.selectors import owner_emails_for
from proposals.models import Proposal, ProposalSettings, ProposalTemplate


def template_list(*, business: Business) -> QuerySet[ProposalTemplate]:
    return scoped(ProposalTemplate, business).order_by("name", "pk")


def template_get(*, business: Business, pk: object) -> ProposalTemplate:
    return get_for_business_or_404(ProposalTemplate, business, pk=pk)


def proposal_settings_for(*, business: Business) -> ProposalSettings:
    prefs = ProposalSettings.objects.filter(business=business).first()
    return prefs or ProposalSettings(business=business)


def owner_email_for(business: Business) -> str:
    return owner_emails_for(businesses=[business])[business.pk]


def proposal_counts(*, business_ids: Collection[int]) -> dict[int, int]:
    """How many proposals each of these businesses has (absent: none); one grouped query."""
    rows = (
        Proposal.objects.filter(business_id__in=business_ids)
        .order_by()
        .values("business_id")
        .annotate(n=Count("pk"))
        .values_list("business_id", "n")
    )
    return dict(rows)
