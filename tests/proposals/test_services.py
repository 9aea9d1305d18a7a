"""Proposal services: numbering, totals, what a draft accepts and refuses, duplicates and edits
(sending is in test_services_sending.py, the client's answers in test_services_answers.py)."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from proposals import services
from proposals.models import Proposal
from tests.accounts.factories import BusinessFactory, MembershipFactory
from tests.concurrency import run_concurrently
from tests.proposals.factories import (
    ClientFactory,
    item,
    make_proposal,
    make_sent_proposal,
    sections,
)

pytestmark = pytest.mark.django_db


Status = Proposal.Status


def test_numbers_are_per_business_and_consecutive():
    business = BusinessFactory()
    client = ClientFactory(business=business)
    numbers = [make_proposal(client=client).display_number for _ in range(3)]
    assert numbers == ["P-0001", "P-0002", "P-0003"]
    assert make_proposal().display_number == "P-0001"  # another business starts again


@pytest.mark.django_db(transaction=True)
def test_proposals_created_concurrently_get_distinct_consecutive_numbers():
    client = ClientFactory()
    make_proposal(client=client)  # the sequence row exists; the race is on the increment
    results = run_concurrently(lambda: make_proposal(client=client).number, 6)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(results) == [2, 3, 4, 5, 6, 7]


@pytest.mark.django_db(transaction=True)
def test_first_proposals_created_concurrently_get_distinct_numbers():
    client = ClientFactory()
    results = run_concurrently(lambda: make_proposal(client=client).number, 4)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(results) == [1, 2, 3, 4]


def test_totals_are_computed_and_stored_on_create():
    proposal = make_proposal()
    # 1200 + 10 × 95.50 × 1.20 (tax); the optional hosting line is not selected by default.
    assert proposal.total == Decimal("1200.00") + Decimal("955.00") + Decimal("191.00")


def test_malicious_rich_text_is_neutralised_when_stored():
    proposal = make_proposal(
        intro='<p onclick="steal()">Hi<script>alert(1)</script></p><img src=x onerror=alert(1)>',
        terms='<a href="javascript:alert(1)">terms</a><a href="https://ok.example">ok</a>',
    )
    for text in (proposal.intro, proposal.terms):
        assert "script" not in text
        assert "onerror" not in text and "onclick" not in text
        assert "javascript:" not in text
    assert 'href="https://ok.example"' in proposal.terms


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"currency": "XXX"}, "currency"),
        ({"title": ""}, "title"),
        ({"sections": sections(item(quantity="-1"))}, "sections"),
        ({"sections": sections(item(unit_price="1e400"))}, "sections"),
        ({"sections": sections(item(unit_price="abc"))}, "sections"),
        ({"sections": sections(item(discount_percent="101"))}, "sections"),
        ({"sections": sections(item(name=""))}, "sections"),
        ({"sections": "nope"}, "sections"),
        ({"sections": sections(item(quantity="1000", unit_price="9999999999"))}, "sections"),
    ],
)
def test_bad_input_is_a_field_error_and_creates_nothing(bad, field):
    client = ClientFactory()
    with pytest.raises(ValidationError) as error:
        make_proposal(client=client, **bad)
    assert field in error.value.message_dict
    assert not Proposal.objects.exists()


def test_a_client_of_another_business_is_refused():
    client = ClientFactory()
    with pytest.raises(ValidationError):
        services.proposal_create(
            business=BusinessFactory(), acting_user=None, client=client, title="x"
        )


def test_stale_revision_is_a_concurrent_edit():
    proposal = make_proposal()
    with pytest.raises(services.ConcurrentEditError):
        services.proposal_update(
            proposal=proposal, acting_user=None, title="x", client=proposal.client,
            currency="USD", valid_until=None, intro="", terms="", sections=[],
            expected_revision=proposal.revision - 1,
        )  # fmt: skip
    proposal.refresh_from_db()
    assert proposal.title == "Website redesign"


def test_duplicate_copies_the_working_copy_as_a_new_draft():
    proposal, _ = make_sent_proposal()
    copy = services.proposal_duplicate(proposal=proposal, acting_user=None)
    assert copy.status == Status.DRAFT and copy.number == proposal.number + 1
    assert copy.total == proposal.total
    assert copy.sections.get().items.count() == 3


def test_a_valid_until_date_far_in_the_future_is_a_field_error():
    with pytest.raises(ValidationError) as error:
        make_proposal(valid_until=date(9999, 12, 31))
    assert "valid_until" in error.value.message_dict


def test_drafts_only_updates_refuse_a_sent_proposal():
    proposal, _ = make_sent_proposal()
    with pytest.raises(services.TransitionError, match="Only a draft"):
        services.proposal_update(
            proposal=proposal, acting_user=None, title="x", client=proposal.client,
            currency="USD", valid_until=None, intro="", terms="", sections=[],
            drafts_only=True,
        )  # fmt: skip
    proposal.refresh_from_db()
    assert proposal.title == "Website redesign"


def test_searching_for_unicode_digits_is_just_text():
    from proposals.selectors import proposal_list

    proposal = make_proposal()
    assert list(proposal_list(business=proposal.business, search="²")) == []
    assert list(proposal_list(business=proposal.business, search="P-0001")) == [proposal]


@pytest.mark.django_db
def test_a_brand_name_with_a_line_break_is_saved_on_one_line():
    """It goes into the From display name of every client email: a CR/LF there broke them all."""
    business = BusinessFactory()
    prefs = services.settings_update(
        business=business,
        acting_user=None,
        brand_name="Acme\r\nBcc: victim@example.com",
        brand_color="#116dff",
        remind_unopened_after_days=3,
        remind_unanswered_after_days=7,
        default_currency="USD",
    )
    prefs.refresh_from_db()
    assert prefs.brand_name == "Acme Bcc: victim@example.com"


@pytest.mark.django_db
def test_a_title_and_a_client_name_with_line_breaks_are_saved_on_one_line():
    """Both reach email headers (the subject, the recipient's name): cleaned when saved too."""
    business = BusinessFactory()
    client = services.client_create(
        business=business, acting_user=None, name="Ada\r\nLovelace\u2028", email="a@example.com"
    )
    proposal = services.proposal_create(
        business=business, acting_user=None, client=client, title="Garden\nBcc: x@example.com"
    )
    client.refresh_from_db()
    proposal.refresh_from_db()
    assert (client.name, proposal.title) == ("Ada Lovelace", "Garden Bcc: x@example.com")
    # Only the breaks go: an emoji joined by ZWJ and a bidi mark are kept as typed.
    kept = "\U0001f469\u200d\U0001f467 \u05e2\u05d1 \u202e"
    services.proposal_update(
        proposal=proposal, acting_user=None, title=kept, client=client,
        currency=proposal.currency, valid_until=None, intro="", terms="", sections=[],
    )  # fmt: skip
    proposal.refresh_from_db()
    assert proposal.title == kept


@pytest.mark.django_db
def test_writes_without_a_timeline_row_log_who_made_them(log_events):
    membership = MembershipFactory()
    business, user = membership.business, membership.user
    client = services.client_create(
        business=business, acting_user=user, name="Ada", email="ada@example.com"
    )
    services.client_update(client=client, acting_user=user, name="Ada L", email="ada@example.com")
    template = services.template_create(business=business, acting_user=user, name="Standard")
    services.template_update(template=template, acting_user=user, name="Standard 2")
    template_id = template.pk
    services.template_delete(template=template, acting_user=user)
    services.settings_update(
        business=business, acting_user=user, brand_name="Acme", brand_color="#116dff",
        remind_unopened_after_days=3, remind_unanswered_after_days=7, default_currency="USD",
    )  # fmt: skip
    services.client_delete(client=client, acting_user=None)

    by_event = {e["event"]: e for e in log_events}
    for event in (
        "client_created", "client_updated", "template_created", "template_updated",
        "template_deleted", "proposal_settings_updated",
    ):  # fmt: skip
        assert by_event[event]["acting_user_id"] == user.pk, event
    assert by_event["template_deleted"]["template_id"] == template_id
    assert by_event["client_deleted"]["acting_user_id"] is None
