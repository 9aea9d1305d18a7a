"""A payment schedule through the services: saved, refused, frozen on send, resolved on accept."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from proposals import services
from proposals.models import Proposal
from tests.proposals.factories import accept, item, make_proposal, sections

pytestmark = pytest.mark.django_db

DEPOSIT_AND_BALANCE = [
    {"kind": "deposit", "amount_type": "percent", "value": "25"},
    {"kind": "milestone", "label": "On delivery", "amount_type": "balance", "due": "days_after",
     "due_days": 30},
]  # fmt: skip


def with_option() -> list[dict]:
    return sections(item("Design", "1", "1000.00"), item("Extra", "1", "200.00", optional=True))


def test_a_proposal_keeps_its_schedule():
    proposal = make_proposal(sections=with_option(), payment_schedule=DEPOSIT_AND_BALANCE)
    proposal.refresh_from_db()
    assert [p["label"] for p in proposal.payment_schedule] == ["Deposit", "On delivery"]


def test_a_refused_schedule_saves_nothing():
    proposal = make_proposal(sections=with_option(), payment_schedule=DEPOSIT_AND_BALANCE)
    too_much = [{"kind": "deposit", "amount_type": "fixed", "value": "5000"},
                {"kind": "milestone", "amount_type": "balance", "due": "days_after",
                 "due_days": 0}]  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        services.proposal_update(
            proposal=proposal, acting_user=None, title="Changed", client=proposal.client,
            currency=proposal.currency, valid_until=None, intro="", terms="",
            sections=with_option(), payment_schedule=too_much,
        )  # fmt: skip
    assert "payment_schedule" in caught.value.message_dict
    proposal.refresh_from_db()
    assert proposal.title == "Website redesign"
    assert proposal.payment_schedule[0]["value"] == "25.00"
    with pytest.raises(ValidationError):
        make_proposal(client=proposal.client, payment_schedule=too_much)
    assert Proposal.objects.filter(business=proposal.business).count() == 1


def test_new_items_are_checked_against_the_kept_schedule():
    fixed = [{"kind": "deposit", "amount_type": "fixed", "value": "900"},
             {"kind": "milestone", "amount_type": "balance", "due": "days_after",
              "due_days": 0}]  # fmt: skip
    proposal = make_proposal(sections=with_option(), payment_schedule=fixed)
    with pytest.raises(ValidationError, match="more than the total"):
        services.proposal_update(
            proposal=proposal, acting_user=None, title=proposal.title, client=proposal.client,
            currency=proposal.currency, valid_until=None, intro="", terms="",
            sections=sections(item("Smaller", "1", "500.00")),
        )  # fmt: skip


def test_sending_freezes_the_schedule_and_later_edits_do_not_change_it():
    proposal = make_proposal(sections=with_option(), payment_schedule=DEPOSIT_AND_BALANCE)
    version = services.proposal_send(proposal=proposal, acting_user=None)
    proposal.refresh_from_db()
    services.proposal_update(
        proposal=proposal, acting_user=None, title=proposal.title, client=proposal.client,
        currency=proposal.currency, valid_until=None, intro="", terms="", sections=with_option(),
        payment_schedule=[{"kind": "deposit", "amount_type": "percent", "value": "100"}],
    )  # fmt: skip
    version.refresh_from_db()
    assert version.snapshot["payment_schedule"] == DEPOSIT_AND_BALANCE_STORED
    proposal.refresh_from_db()
    assert proposal.payment_schedule[0]["value"] == "100.00"


DEPOSIT_AND_BALANCE_STORED = [
    {"kind": "deposit", "label": "Deposit", "amount_type": "percent", "value": "25.00",
     "due": "acceptance", "due_date": None, "due_days": None},
    {"kind": "milestone", "label": "On delivery", "amount_type": "balance", "value": None,
     "due": "days_after", "due_date": None, "due_days": 30},
]  # fmt: skip


def test_sending_refuses_a_due_date_that_passed_since_it_was_written():
    day = timezone.localdate() + timedelta(days=3)
    dated = [{"kind": "milestone", "amount_type": "percent", "value": "100", "due": "date",
              "due_date": day.isoformat()}]  # fmt: skip
    proposal = make_proposal(payment_schedule=dated)
    stale = [{**dated[0], "due_date": (timezone.localdate() - timedelta(days=1)).isoformat()}]
    Proposal.objects.filter(pk=proposal.pk).update(payment_schedule=stale)
    with pytest.raises(ValidationError, match="has already passed"):
        services.proposal_send(proposal=proposal, acting_user=None)
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.DRAFT and proposal.current_version_id is None


@pytest.mark.parametrize(
    ("ticked", "amounts"),
    [(False, ["250.00", "750.00"]), (True, ["300.00", "900.00"])],
)
def test_accepting_resolves_the_schedule_for_the_options_chosen(ticked, amounts):
    proposal = make_proposal(sections=with_option(), payment_schedule=DEPOSIT_AND_BALANCE)
    version = services.proposal_send(proposal=proposal, acting_user=None)
    option = next(
        i["key"] for s in version.snapshot["sections"] for i in s["items"] if i["optional"]
    )
    acceptance = accept(version, keys=[option] if ticked else [])
    today = timezone.localdate()
    assert [p["amount"] for p in acceptance.payment_schedule] == amounts
    assert sum(Decimal(p["amount"]) for p in acceptance.payment_schedule) == acceptance.total
    assert [p["due_date"] for p in acceptance.payment_schedule] == [
        today.isoformat(), (today + timedelta(days=30)).isoformat()
    ]  # fmt: skip


def test_a_template_carries_the_schedule_both_ways():
    proposal = make_proposal(sections=with_option(), payment_schedule=DEPOSIT_AND_BALANCE)
    template = services.template_from_proposal(proposal=proposal, acting_user=None, name="Std")
    assert template.payment_schedule == DEPOSIT_AND_BALANCE_STORED
    started = services.proposal_create(
        business=proposal.business, acting_user=None, client=proposal.client, template=template
    )
    assert started.payment_schedule == DEPOSIT_AND_BALANCE_STORED
    copy = services.proposal_duplicate(proposal=proposal, acting_user=None)
    assert copy.payment_schedule == DEPOSIT_AND_BALANCE_STORED


def test_a_template_refuses_a_schedule_that_does_not_add_up():
    proposal = make_proposal()
    with pytest.raises(ValidationError, match="not 100%"):
        services.template_create(
            business=proposal.business, acting_user=None, name="Bad", sections=with_option(),
            payment_schedule=[{"kind": "deposit", "amount_type": "percent", "value": "40"}],
        )  # fmt: skip


def test_duplicating_leaves_out_a_schedule_whose_due_date_passed():
    dated = [{"kind": "milestone", "amount_type": "percent", "value": "100", "due": "date",
              "due_date": (timezone.localdate() + timedelta(days=3)).isoformat()}]  # fmt: skip
    proposal = make_proposal(payment_schedule=dated)
    passed = [{**proposal.payment_schedule[0], "due_date": "2020-01-01"}]
    Proposal.objects.filter(pk=proposal.pk).update(payment_schedule=passed)
    proposal.refresh_from_db()
    copy = services.proposal_duplicate(proposal=proposal, acting_user=None)
    assert copy.payment_schedule == []
    assert copy.title == "Website redesign (copy)"
