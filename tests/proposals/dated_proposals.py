"""Sent proposals dated for the scheduled jobs' tests: by their valid-until day, or sent some
days ago with the business's reminder rules."""

from datetime import date, timedelta

from django.utils import timezone

from proposals.models import Proposal, ProposalSettings, ProposalVersion
from proposals.reminders import reminders_reschedule
from tests.accounts.factories import BusinessFactory
from tests.proposals.factories import make_sent_proposal, sent_valid_until


def sent_with_valid_until(valid_until: date, tz: str = "UTC", business=None) -> Proposal:
    business = business or BusinessFactory.create(timezone=tz)
    proposal, _ = make_sent_proposal(business=business)
    sent_valid_until(proposal, valid_until)
    return proposal


def sent_days_ago(days: float, *, unopened: int | None = 3, unanswered: int = 7):
    business = BusinessFactory.create()
    if unopened is not None:
        ProposalSettings.objects.create(
            business=business,
            remind_unopened_after_days=unopened,
            remind_unanswered_after_days=unanswered,
        )
    proposal, version = make_sent_proposal(business=business)
    backdate(version, days)
    return proposal, version


def backdate(version: ProposalVersion, days: float) -> None:
    """As if the version had been sent ``days`` ago (its reminder due times move with it)."""
    ProposalVersion.objects.filter(pk=version.pk).update(
        sent_at=timezone.now() - timedelta(days=days)
    )
    reminders_reschedule(business_id=version.business_id)
    version.refresh_from_db()
