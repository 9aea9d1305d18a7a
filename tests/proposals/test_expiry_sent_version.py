"""Expiry follows the valid-until date of the version sent (what the client saw), never the
working copy's, edited since and not yet sent."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from proposals import selectors, services
from proposals.delivery.jobs import proposals_expire_due
from proposals.models import Activity, Delivery, Proposal
from tests.proposals.factories import accept, make_sent_proposal, sent_valid_until

pytestmark = pytest.mark.django_db

Status = Proposal.Status


def _edit_valid_until(proposal: Proposal, day) -> Proposal:
    """The owner changes only the working copy's valid-until date, and does not re-send."""
    services.proposal_update(
        proposal=proposal, acting_user=None, title=proposal.title, client=proposal.client,
        currency=proposal.currency, valid_until=day, intro=proposal.intro, terms=proposal.terms,
        sections=selectors.working_copy_sections(proposal),
    )  # fmt: skip
    proposal.refresh_from_db()
    assert proposal.valid_until == day and proposal.has_unsent_changes
    return proposal


def test_a_working_copy_date_in_the_past_does_not_expire_what_the_client_was_sent(client):
    today = timezone.localdate()
    proposal, version = make_sent_proposal(valid_until=today + timedelta(days=10))
    assert proposal.sent_valid_until == today + timedelta(days=10)
    _edit_valid_until(proposal, today - timedelta(days=3))

    assert proposals_expire_due() == 0
    assert Proposal.objects.get(pk=proposal.pk).status == Status.SENT
    assert selectors.public_page_state(version=version) == "open"
    assert client.get(reverse("public:proposal", args=[version.token])).status_code == 200
    accept(version)
    assert Proposal.objects.get(pk=proposal.pk).status == Status.ACCEPTED


def test_a_working_copy_date_extended_but_not_sent_does_not_keep_it_open(client):
    today = timezone.localdate()
    proposal, version = make_sent_proposal(valid_until=today + timedelta(days=10))
    sent_valid_until(proposal, today - timedelta(days=3))  # what the client saw has passed
    proposal.refresh_from_db()
    _edit_valid_until(proposal, today + timedelta(days=30))
    version.refresh_from_db()

    assert selectors.public_page_state(version=version) == "expired"
    with pytest.raises(services.TransitionError, match="expired"):
        accept(version)
    page = client.get(reverse("public:proposal", args=[version.token])).content.decode()
    assert f"It was valid until {today - timedelta(days=3):%-d %B %Y}" in page

    assert proposals_expire_due() == 1
    assert Proposal.objects.get(pk=proposal.pk).status == Status.EXPIRED
    expired = Activity.objects.get(proposal=proposal, kind=Activity.Kind.EXPIRED)
    assert expired.details == {"valid_until": (today - timedelta(days=3)).isoformat()}
    assert Delivery.objects.filter(proposal=proposal, kind=Delivery.Kind.OWNER_EXPIRED).exists()


def test_sending_again_makes_the_new_date_the_one_expiry_follows():
    today = timezone.localdate()
    proposal, _ = make_sent_proposal(valid_until=today + timedelta(days=10))
    _edit_valid_until(proposal, today + timedelta(days=40))
    assert proposal.sent_valid_until == today + timedelta(days=10)
    services.proposal_send(proposal=proposal, acting_user=None)
    proposal.refresh_from_db()
    assert proposal.sent_valid_until == today + timedelta(days=40)
