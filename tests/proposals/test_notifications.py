"""What each notification says and who gets it (issue 13 pt 9): the decline with its reason,
the acceptance with its total, an expiry to the owner, a withdrawal to the client, a revised
version that says so. Every email is a Delivery row of the existing pipeline, built by the
mailer as it is sent.
"""

from datetime import UTC, date, datetime, timedelta

import pytest

from proposals import services
from proposals.delivery import mailer
from proposals.delivery.jobs import proposals_expire_due
from proposals.models import Delivery, Proposal
from tests.accounts.factories import BusinessFactory, MembershipFactory
from tests.proposals.factories import (
    ClientFactory,
    item,
    make_sent_proposal,
    sections,
    sent_valid_until,
)

pytestmark = pytest.mark.django_db


def _built(kind: str, **filters):
    delivery = Delivery.objects.select_related("business", "proposal", "version").get(
        kind=kind, **filters
    )
    message = mailer.build_message(delivery)
    return delivery, message, message.body, message.alternatives[0][0]


def test_owner_decline_email_carries_the_reason():
    _, version = make_sent_proposal()
    services.proposal_decline(
        version=version, reason="Too expensive\nfor this year", ip=None, user_agent=""
    )
    _, message, text, page = _built(Delivery.Kind.OWNER_DECLINED)
    assert "declined" in message.subject
    assert "Their reason:" in text and "Too expensive\nfor this year" in text
    assert "Too expensive<br>for this year" in page


def test_owner_decline_email_without_a_reason_says_so():
    _, version = make_sent_proposal()
    services.proposal_decline(version=version, reason="", ip=None, user_agent="")
    _, _, text, page = _built(Delivery.Kind.OWNER_DECLINED)
    assert "They gave no reason." in text and "They gave no reason." in page


def test_owner_accept_email_carries_the_accepted_total_and_the_choice():
    _, version = make_sent_proposal(
        sections=sections(
            item("Design", "1", "1200.00"),
            item("Hosting", "1", "240.00", optional=True),
            item("Support", "1", "99.00", optional=True),
        )
    )
    hosting = next(
        entry["key"]
        for entry in version.snapshot["sections"][0]["items"]
        if entry["name"] == "Hosting"
    )
    services.proposal_accept(
        version=version,
        signed_name="Ada Lovelace",
        agreed=True,
        selected_item_keys=[hosting],
        ip=None,
        user_agent="",
    )
    _, _, text, page = _built(Delivery.Kind.OWNER_ACCEPTED)
    for body in (text, page):
        assert "Ada Lovelace" in body
        assert "1,440.00" in body  # 1200 + the hosting chosen, not the support
        assert "Hosting" in body and "Support" not in body


def _sent_then_past(**fields) -> Proposal:
    """Sent while valid, then its valid-until day put in the past (10 January 2026)."""
    proposal, _ = make_sent_proposal(valid_until=date.today() + timedelta(days=3), **fields)
    sent_valid_until(proposal, date(2026, 1, 10))
    proposal.refresh_from_db()
    return proposal


def test_the_owner_hears_of_an_expiry_once():
    proposal = _sent_then_past()
    now = datetime(2026, 2, 1, tzinfo=UTC)
    assert proposals_expire_due(now=now) == 1
    assert proposals_expire_due(now=now) == 0
    delivery, message, text, _ = _built(Delivery.Kind.OWNER_EXPIRED)
    assert delivery.recipient == proposal.business.owner_email
    assert "expired" in message.subject and proposal.display_number in message.subject
    assert "10 January 2026" in text and "/app/proposals/" in text
    assert Delivery.objects.filter(kind=Delivery.Kind.OWNER_EXPIRED).count() == 1


def test_expiry_of_a_business_without_owner_email_goes_to_its_owner_member():
    business = BusinessFactory(owner_email="")
    owner = MembershipFactory(business=business).user
    _sent_then_past(client=ClientFactory(business=business))
    proposals_expire_due(now=datetime(2026, 2, 1, tzinfo=UTC))
    assert Delivery.objects.get(kind=Delivery.Kind.OWNER_EXPIRED).recipient == owner.email


def test_the_owner_of_a_business_known_only_by_sso_is_not_emailed_at_a_made_up_address():
    business = BusinessFactory(owner_email="")
    MembershipFactory(business=business, user__email="wix-0f3c@wix-sso.invalid")
    proposal = _sent_then_past(client=ClientFactory(business=business))
    proposals_expire_due(now=datetime(2026, 2, 1, tzinfo=UTC))
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.EXPIRED
    assert not Delivery.objects.filter(kind=Delivery.Kind.OWNER_EXPIRED).exists()
    assert not Delivery.objects.filter(recipient__iendswith=".invalid").exists()


def test_the_client_hears_of_a_withdrawal():
    proposal, version = make_sent_proposal()
    services.proposal_withdraw(proposal=proposal, acting_user=None)
    delivery, message, text, _ = _built(Delivery.Kind.CLIENT_WITHDRAWN)
    assert delivery.recipient == version.recipient_email
    assert delivery.state == Delivery.State.PENDING  # not cancelled with the proposal's emails
    assert "withdrew" in message.subject
    assert "has withdrawn the proposal" in text
    assert message.reply_to == [proposal.business.owner_email]
    # The first proposal email, not yet out, is cancelled: the client gets only the notice.
    assert Delivery.objects.get(kind=Delivery.Kind.PROPOSAL).state == Delivery.State.CANCELLED


def test_a_resent_version_says_it_is_revised():
    proposal, first = make_sent_proposal(title="Roof repair")
    _, message, text, _ = _built(Delivery.Kind.PROPOSAL, version=first)
    assert "revised" not in message.subject and "revised" not in text
    second = services.proposal_send(proposal=proposal, acting_user=None)
    _, message, text, page = _built(Delivery.Kind.PROPOSAL, version=second)
    assert "revised proposal" in message.subject and "version 2" in message.subject
    assert "revised version" in text and "version 2" in text
    assert "revised version" in page
    assert f"/p/{second.token}" in text


def test_notifications_of_an_expired_proposal_are_not_sent_to_the_client():
    _sent_then_past()
    proposals_expire_due(now=datetime(2026, 2, 1, tzinfo=UTC))
    kinds = set(Delivery.objects.values_list("kind", flat=True))
    assert Delivery.Kind.CLIENT_WITHDRAWN not in kinds
    assert Delivery.Kind.OWNER_EXPIRED in kinds
