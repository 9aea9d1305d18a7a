import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import close_old_connections, connection
from django.utils import timezone

from accounts.models import Business
from proposals import selectors, services
from proposals.models import Acceptance, Activity, Delivery, Proposal, ProposalVersion
from proposals.selectors import public_page_state, version_totals
from tests.accounts.factories import BusinessFactory, MembershipFactory
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


def run_concurrently(fn, count: int) -> list:
    """Run fn in `count` threads released at once; return results or raised exceptions."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def target(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = fn()
        except Exception as exc:  # collected for the assertions
            results[index] = exc
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


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
    Proposal.objects.filter(pk=proposal.pk).update(valid_until=today - timedelta(days=2))
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


def test_a_double_submitted_send_sends_one_version():
    proposal = make_proposal()
    seen = proposal.revision
    services.proposal_send(proposal=proposal, acting_user=None, expected_revision=seen)
    with pytest.raises(services.ConcurrentEditError):
        services.proposal_send(proposal=proposal, acting_user=None, expected_revision=seen)
    assert ProposalVersion.objects.filter(proposal=proposal).count() == 1
    assert Delivery.objects.filter(kind="proposal").count() == 1


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
