"""Sending a proposal: the frozen version and its email in one transaction, views, resends, and
the free plan's monthly limit."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from accounts.models import Business
from proposals import selectors, services
from proposals.models import Activity, Delivery, Proposal, ProposalVersion
from proposals.selectors import public_page_state
from tests.accounts.factories import BusinessFactory
from tests.proposals.factories import (
    ClientFactory,
    accept,
    item,
    make_proposal,
    make_sent_proposal,
    sections,
)

pytestmark = pytest.mark.django_db


Status = Proposal.Status


def test_sending_freezes_a_version_and_records_the_email_in_the_same_transaction():
    proposal, version = make_sent_proposal()
    assert proposal.status == Status.SENT
    assert proposal.current_version == version
    assert version.number == 1 and len(version.token) >= 43
    delivery = Delivery.objects.get(proposal=proposal)
    assert delivery.kind == Delivery.Kind.PROPOSAL
    assert delivery.recipient == proposal.client.email
    assert delivery.state == Delivery.State.PENDING
    assert list(Activity.objects.filter(proposal=proposal).values_list("kind", flat=True)) == [
        "sent",
        "created",
    ]


def test_a_failed_send_records_nothing(monkeypatch):
    proposal = make_proposal(sections=[])
    with pytest.raises(ValidationError):
        services.proposal_send(proposal=proposal, acting_user=None)
    proposal.refresh_from_db()
    assert proposal.status == Status.DRAFT
    assert not Delivery.objects.exists()
    assert not ProposalVersion.objects.exists()


def test_editing_a_sent_proposal_keeps_the_sent_version_until_resent():
    proposal, v1 = make_sent_proposal()
    services.proposal_update(
        proposal=proposal, acting_user=None, title="Changed", client=proposal.client,
        currency="USD", valid_until=None, intro="", terms="",
        sections=sections(item("Only line", "1", "5.00")),
    )  # fmt: skip
    proposal.refresh_from_db()
    assert proposal.has_unsent_changes
    assert proposal.current_version == v1
    assert v1.snapshot["title"] == "Website redesign"
    v2 = services.proposal_send(proposal=proposal, acting_user=None)
    assert v2.number == 2 and v2.snapshot["title"] == "Changed"
    v1.refresh_from_db()
    assert public_page_state(version=v1) == "superseded"
    with pytest.raises(services.TransitionError, match="newer version"):
        accept(v1)


def test_first_view_moves_sent_to_viewed_once_and_notifies_the_owner_once():
    proposal, version = make_sent_proposal()
    assert services.proposal_mark_viewed(version=version, ip="203.0.113.1", user_agent="a")
    assert not services.proposal_mark_viewed(version=version, ip="203.0.113.1", user_agent="a")
    proposal.refresh_from_db()
    assert proposal.status == Status.VIEWED
    assert proposal.views.count() == 2
    assert Activity.objects.filter(proposal=proposal, kind="viewed").count() == 1
    assert Delivery.objects.filter(kind=Delivery.Kind.OWNER_VIEWED).count() == 1


def test_free_plan_limit_is_checked_when_sending(settings):
    settings.FREE_PLAN_MONTHLY_SENDS = 2
    client = ClientFactory()
    for _ in range(2):
        services.proposal_send(proposal=make_proposal(client=client), acting_user=None)
    third = make_proposal(client=client)
    with pytest.raises(services.PlanLimitReached):
        services.proposal_send(proposal=third, acting_user=None)
    Business.objects.filter(pk=client.business_id).update(plan=Business.Plan.PAID)
    third.refresh_from_db()
    services.proposal_send(proposal=third, acting_user=None)


def test_sends_this_month_counts_first_sends_in_the_business_month(settings):
    """Only version 1 counts (a resend does not), from the 1st in the business's own zone."""
    from datetime import UTC, datetime

    settings.FREE_PLAN_MONTHLY_SENDS = 50
    business = BusinessFactory(timezone="Pacific/Auckland")  # UTC+13 on 1 Dec
    other = BusinessFactory()
    first, _ = make_sent_proposal(business=business)
    work = [{"title": "", "items": [{"name": "X", "unit_price": "10"}]}]
    resent = services.proposal_update(
        proposal=first, acting_user=None, title="Again", client=first.client, currency="USD",
        valid_until=None, intro="", terms="", sections=work,
    )  # fmt: skip
    services.proposal_send(proposal=resent, acting_user=None)
    make_sent_proposal(business=other)
    _, early = make_sent_proposal(business=business)
    _, late = make_sent_proposal(business=business)
    now = datetime(2026, 12, 1, 10, 59, tzinfo=UTC)  # 1 Dec 23:59 in Auckland
    ProposalVersion.objects.filter(proposal=first).update(sent_at=now)
    # 30 Nov 11:30 UTC is already 1 Dec 00:30 in Auckland; 10:30 UTC is still November there.
    ProposalVersion.objects.filter(pk=early.pk).update(
        sent_at=now - timedelta(hours=23, minutes=29)
    )
    ProposalVersion.objects.filter(pk=late.pk).update(sent_at=now - timedelta(hours=24, minutes=29))
    assert selectors.sends_this_month(business, now=now) == 2
    assert selectors.sends_this_month(other) == 1


def test_no_limit_no_count(django_assert_num_queries):
    from proposals.selectors import send_allowance

    paid = BusinessFactory(plan=Business.Plan.PAID)
    with django_assert_num_queries(0):
        assert send_allowance(business=paid) is None
    free = BusinessFactory(plan=Business.Plan.FREE)
    make_sent_proposal(business=free)
    with django_assert_num_queries(1):
        allowance = send_allowance(business=free)
    assert (allowance.used, allowance.limit, allowance.reached) == (1, 5, False)


def test_a_double_submitted_send_sends_one_version():
    proposal = make_proposal()
    seen = proposal.revision
    services.proposal_send(proposal=proposal, acting_user=None, expected_revision=seen)
    with pytest.raises(services.ConcurrentEditError):
        services.proposal_send(proposal=proposal, acting_user=None, expected_revision=seen)
    assert ProposalVersion.objects.filter(proposal=proposal).count() == 1
    assert Delivery.objects.filter(kind="proposal").count() == 1
