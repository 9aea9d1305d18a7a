""" "Can this version still be answered" is one rule (ProposalVersion.answer_state): the client
page shows what the accept and decline services decide, so the page never offers an answer the
service refuses, nor refuses one it would take (issue 14 pt 4)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Business
from proposals import selectors, services
from tests.proposals.factories import accept, make_sent_proposal, sent_valid_until

pytestmark = pytest.mark.django_db


def _withdrawn(proposal, version):
    services.proposal_withdraw(proposal=proposal, acting_user=None)
    return version


def _accepted(proposal, version):
    accept(version)
    return version


def _declined(proposal, version):
    services.proposal_decline(version=version, reason="", ip=None, user_agent="")
    return version


def _superseded(proposal, version):
    services.proposal_send(proposal=proposal, acting_user=None)
    return version


def _answered_then_superseded(proposal, version):
    services.proposal_send(proposal=proposal, acting_user=None)
    proposal.refresh_from_db()
    accept(proposal.current_version)
    return version  # the first version, of a proposal accepted in its second


def _past_its_day(proposal, version):
    # Still "sent": the expiry job has not run yet, the day is over all the same.
    sent_valid_until(proposal, timezone.localdate() - timedelta(days=2))
    return version


def _expired(proposal, version):
    assert services.proposal_expire(proposal=proposal, now=timezone.now() + timedelta(days=400))
    return version


def _uninstalled(proposal, version):
    Business.objects.filter(pk=proposal.business_id).update(status=Business.Status.UNINSTALLED)
    return version


@pytest.mark.parametrize(
    "make, state, refusal",
    [
        (lambda p, v: v, "open", None),
        (_withdrawn, "withdrawn", "withdrawn"),
        (_accepted, "accepted", "already accepted"),
        (_declined, "declined", "already declined"),
        (_superseded, "superseded", "newer version"),
        (_answered_then_superseded, "superseded", "newer version"),
        (_past_its_day, "expired", "expired"),
        (_expired, "expired", "expired"),
        (_uninstalled, "unavailable", "cannot be answered"),
    ],
)
def test_the_page_shows_what_the_answer_services_decide(make, state, refusal):
    proposal, version = make_sent_proposal(valid_until=timezone.localdate() + timedelta(days=30))
    version = make(proposal, version)
    version = type(version).objects.select_related("proposal__business").get(pk=version.pk)

    assert selectors.public_page_state(version=version) == state
    if refusal is None:
        services.proposal_decline(version=version, reason="", ip=None, user_agent="")
        return
    for answer in (
        lambda: accept(version),
        lambda: services.proposal_decline(version=version, reason="", ip=None, user_agent=""),
    ):
        with pytest.raises(services.TransitionError, match=refusal):
            answer()
