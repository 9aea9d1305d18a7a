"""A business's templates, its proposal settings and its owner's address."""

from django.db.models import QuerySet

from accounts.models import Business
from accounts.scoping import get_for_business_or_404, scoped
from accounts.selectors import owner_emails_for
from proposals.models import ProposalSettings, ProposalTemplate


def template_list(*, business: Business) -> QuerySet[ProposalTemplate]:
    return scoped(ProposalTemplate, business).order_by("name", "pk")


def template_get(*, business: Business, pk: object) -> ProposalTemplate:
    return get_for_business_or_404(ProposalTemplate, business, pk=pk)


def proposal_settings_for(*, business: Business) -> ProposalSettings:
    prefs = ProposalSettings.objects.filter(business=business).first()
    return prefs or ProposalSettings(business=business)


def owner_email_for(business: Business) -> str:
    return owner_emails_for(businesses=[business])[business.pk]
