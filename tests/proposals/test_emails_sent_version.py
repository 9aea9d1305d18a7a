"""Emails about a sent proposal carry what was sent (the version's title and content), not the
working copy the owner has edited since."""

import pytest

from proposals import services
from proposals.delivery import mailer
from proposals.delivery.jobs import reminders_send_due
from proposals.models import Delivery
from tests.proposals.dated_proposals import sent_days_ago
from tests.proposals.factories import accept

pytestmark = pytest.mark.django_db


def _retitle_working_copy(proposal, title: str) -> None:
    services.proposal_update(
        proposal=proposal,
        acting_user=None,
        title=title,
        client=proposal.client,
        currency=proposal.currency,
        valid_until=proposal.valid_until,
        intro=proposal.intro,
        terms=proposal.terms,
        sections=None,
    )
    proposal.refresh_from_db()
    assert proposal.title == title


def _texts(delivery: Delivery) -> str:
    message = mailer.build_message(delivery)
    return "\n".join([message.subject, message.body, message.alternatives[0][0]])


def test_the_reminder_and_accept_emails_carry_the_sent_title():
    proposal, version = sent_days_ago(3.1, unopened=3, unanswered=7)
    _retitle_working_copy(proposal, "Draft retitled after sending")

    assert reminders_send_due() == 1
    accept(version, "Ada", ip=None, user_agent="")

    kinds = [Delivery.Kind.REMINDER, Delivery.Kind.OWNER_ACCEPTED, "acceptance_confirmation"]
    for kind in kinds:
        delivery = Delivery.objects.select_related("business").get(proposal=proposal, kind=kind)
        texts = _texts(delivery)
        assert "Website redesign" in texts, kind
        assert "Draft retitled after sending" not in texts, kind
