"""The client's answers: accepting (once, even concurrently), declining, and the transitions
that are refused."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from proposals import services
from proposals.models import Acceptance, Activity, Delivery, Proposal
from proposals.selectors import public_page_state, version_totals
from tests.accounts.factories import BusinessFactory
from tests.concurrency import run_concurrently
from tests.proposals.factories import (
    ClientFactory,
    accept,
    make_proposal,
    make_sent_proposal,
    sent_valid_until,
)

pytestmark = pytest.mark.django_db


Status = Proposal.Status


def test_accepting_records_signature_hash_and_emails():
    proposal, version = make_sent_proposal()
    optional_key = [
        i["key"] for s in version.snapshot["sections"] for i in s["items"] if i["optional"]
    ][0]
    sent_total = proposal.total  # without the optional item
    acceptance = accept(version, keys=[optional_key])
    proposal.refresh_from_db()
    assert proposal.status == Status.ACCEPTED
    assert acceptance.signed_name == "Jane Client"
    assert acceptance.email == proposal.client.email
    assert acceptance.ip == "203.0.113.9"
    assert len(acceptance.content_hash) == 64
    assert acceptance.total == version_totals(version=version, selected_keys={optional_key}).total
    assert acceptance.total == sent_total + Decimal("240.00")
    # Once accepted, the proposal's total is what the client signed (issue 13 pt 1).
    assert proposal.total == acceptance.total
    kinds = set(Delivery.objects.values_list("kind", flat=True))
    assert {"acceptance_confirmation", "owner_accepted"} <= kinds


def test_accepting_twice_records_one_acceptance():
    _, version = make_sent_proposal()
    accept(version)
    with pytest.raises(services.TransitionError, match="already accepted"):
        accept(version)
    assert Acceptance.objects.count() == 1
    assert Activity.objects.filter(kind="accepted").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_accepts_record_one_acceptance_one_activity_and_one_set_of_emails():
    _, version = make_sent_proposal()
    results = run_concurrently(lambda: accept(version), 4)
    assert sum(isinstance(r, Acceptance) for r in results) == 1, results
    assert all(isinstance(r, (Acceptance, services.TransitionError)) for r in results), results
    assert Acceptance.objects.count() == 1
    assert Activity.objects.filter(kind="accepted").count() == 1
    assert Delivery.objects.filter(kind="acceptance_confirmation").count() == 1
    assert Delivery.objects.filter(kind="owner_accepted").count() == 1


def test_accepting_needs_a_name_and_the_agreement():
    _, version = make_sent_proposal()
    with pytest.raises(ValidationError) as error:
        services.proposal_accept(
            version=version, signed_name=" ", agreed=False, selected_item_keys=[],
            ip=None, user_agent="",
        )  # fmt: skip
    assert set(error.value.message_dict) == {"signed_name", "agreed"}
    with pytest.raises(ValidationError):
        accept(version, keys=["not-an-item"])
    assert not Acceptance.objects.exists()


def test_accept_after_withdraw_is_refused():
    proposal, version = make_sent_proposal()
    services.proposal_withdraw(proposal=proposal, acting_user=None)
    version.refresh_from_db()
    assert version.token_revoked_at is not None
    assert public_page_state(version=version) == "withdrawn"
    with pytest.raises(services.TransitionError, match="withdrawn"):
        accept(version)
    assert Delivery.objects.get(kind="proposal").state == Delivery.State.CANCELLED


def test_accept_after_expiry_is_refused_and_expiry_runs_at_end_of_day_in_business_zone():
    business = BusinessFactory(timezone="Pacific/Auckland")
    today = timezone.localdate()
    proposal, version = make_sent_proposal(
        client=ClientFactory(business=business), valid_until=today + timedelta(days=1)
    )
    sent_valid_until(proposal, today - timedelta(days=2))
    with pytest.raises(services.TransitionError, match="expired"):
        accept(version)
    proposal.refresh_from_db()
    assert services.proposal_expire(proposal=proposal)
    assert not services.proposal_expire(proposal=proposal)  # idempotent
    proposal.refresh_from_db()
    assert proposal.status == Status.EXPIRED
    assert Activity.objects.filter(proposal=proposal, kind="expired").count() == 1


def test_valid_until_is_inclusive_of_that_whole_day():
    from proposals.rules import expires_at

    deadline = expires_at(date(2026, 3, 10), "America/New_York")
    assert deadline.isoformat() == "2026-03-11T00:00:00-04:00"


def test_declining_records_the_reason_and_notifies_the_owner():
    proposal, version = make_sent_proposal()
    services.proposal_decline(version=version, reason="Too expensive", ip=None, user_agent="")
    proposal.refresh_from_db()
    assert proposal.status == Status.DECLINED and proposal.decline_reason == "Too expensive"
    assert Delivery.objects.filter(kind="owner_declined").count() == 1
    with pytest.raises(services.TransitionError):
        accept(version)


@pytest.mark.parametrize("action", ["withdraw", "send_again_after_accept", "edit_after_accept"])
def test_illegal_transitions_raise_a_typed_error(action):
    proposal = make_proposal()
    if action == "withdraw":
        with pytest.raises(services.TransitionError):
            services.proposal_withdraw(proposal=proposal, acting_user=None)
        return
    services.proposal_send(proposal=proposal, acting_user=None)
    accept(proposal.versions.get())
    with pytest.raises(services.ProposalLocked):
        if action == "send_again_after_accept":
            services.proposal_send(proposal=proposal, acting_user=None)
        else:
            services.proposal_update(
                proposal=proposal, acting_user=None, title="x", client=proposal.client,
                currency="USD", valid_until=None, intro="", terms="", sections=[],
            )  # fmt: skip
