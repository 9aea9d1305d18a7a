"""Dashboard: a proposal's page, its actions (send, withdraw, duplicate, retry), its preview,
and the free plan's send counter on the list and the page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Business
from proposals import selectors, services
from proposals.models import Activity, Proposal, ProposalView
from tests.proposals.factories import (
    make_proposal,
    make_sent_proposal,
)
from tests.proposals.pages import html, is_pipeline_read

pytestmark = pytest.mark.django_db


# --- the free plan's counter ------------------------------------------------------------------
def test_a_paid_business_never_counts_its_sends(owner_client, business):
    Business.objects.filter(pk=business.pk).update(plan=Business.Plan.PAID)
    proposal, _ = make_sent_proposal(business=business)
    for url in (
        reverse("dashboard:proposal_list"),
        reverse("dashboard:proposal_detail", args=[proposal.pk]),
    ):
        with CaptureQueriesContext(connection) as queries:
            assert owner_client.get(url).status_code == 200
        counts = [
            q["sql"]
            for q in queries.captured_queries
            if "COUNT(" in q["sql"].upper() and not is_pipeline_read(q["sql"])
        ]
        assert counts == [], url


def test_a_free_business_counts_its_sends_once_per_page(owner_client, business):
    sent, _ = make_sent_proposal(business=business)
    draft = make_proposal(business=business)
    # A sent proposal's page does not show the usage, so it does not count either.
    with CaptureQueriesContext(connection) as queries:
        assert (
            owner_client.get(reverse("dashboard:proposal_detail", args=[sent.pk])).status_code
            == 200
        )
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
    for url in (
        reverse("dashboard:proposal_list"),
        reverse("dashboard:proposal_detail", args=[draft.pk]),
    ):
        with CaptureQueriesContext(connection) as queries:
            assert "1 of 5" in html(owner_client.get(url))
        counts = [
            q["sql"]
            for q in queries.captured_queries
            if "COUNT(" in q["sql"].upper() and not is_pipeline_read(q["sql"])
        ]
        assert len(counts) == 1 and "proposals_proposalversion" in counts[0], url


# --- detail and actions ---------------------------------------------------------------------
def test_detail_shows_totals_versions_and_timeline(owner_client, business, owner):
    proposal = make_proposal(business=business, acting_user=owner)
    services.proposal_send(proposal=proposal, acting_user=owner, message="Hi")
    page = html(owner_client.get(reverse("dashboard:proposal_detail", args=[proposal.pk])))
    assert "Version 1" in page
    assert "Timeline" in page and "created the proposal" in page and "sent version 1" in page
    assert owner.get_full_name() in page
    assert "$2,346.00" in page  # 1200 + 10 × 95.50 × 1.2


def _busy_proposal(business, owner, *, sections_count: int, items: int, rounds: int):
    """A sent proposal with that many sections × items, versions, views and failed emails."""
    from proposals.models import Delivery

    content = [
        {
            "title": f"Part {s}",
            "items": [
                {"name": f"Item {s}.{i}", "quantity": "2", "unit_price": "10.00"}
                for i in range(items)
            ],
        }
        for s in range(sections_count)
    ]
    proposal = make_proposal(business=business, acting_user=owner, sections=content)
    for n in range(rounds):
        version = services.proposal_send(proposal=proposal, acting_user=owner)
        services.proposal_mark_viewed(version=version, ip="203.0.113.9", user_agent="UA")
        proposal.refresh_from_db()
        services.proposal_update(
            proposal=proposal, acting_user=owner, title=f"Round {n}", client=proposal.client,
            currency="USD", valid_until=None, intro="", terms="", sections=content,
        )  # fmt: skip
        proposal.refresh_from_db()
    Delivery.objects.filter(proposal=proposal).update(
        state=Delivery.State.FAILED_PERMANENT, last_error="550 mailbox unavailable"
    )
    return proposal


def test_detail_query_count_is_fixed(owner_client, business, owner, django_assert_num_queries):
    """The same queries for 1 section of 2 items and 2 versions as for 8 × 10 and 4 versions."""
    small = _busy_proposal(business, owner, sections_count=1, items=2, rounds=2)
    big = _busy_proposal(business, owner, sections_count=8, items=10, rounds=4)
    owner_client.get(reverse("dashboard:proposal_detail", args=[small.pk]))
    with CaptureQueriesContext(connection) as few:
        page = html(owner_client.get(reverse("dashboard:proposal_detail", args=[small.pk])))
    assert "Item 0.1" in page and "550 mailbox unavailable" in page
    with django_assert_num_queries(len(few.captured_queries)) as many:
        page = html(owner_client.get(reverse("dashboard:proposal_detail", args=[big.pk])))
    assert "Item 7.9" in page and "Version 4" in page and "$1,600.00" in page
    # Sections and their items are one query (a LEFT JOIN), and no frozen snapshot is loaded
    # but the current one.
    sql = [q["sql"] for q in many.captured_queries]
    assert sum('FROM "proposals_section"' in q for q in sql) == 1
    assert sum('JOIN "proposals_lineitem"' in q for q in sql) == 1
    assert not any('FROM "proposals_lineitem"' in q for q in sql)
    assert sum('"proposals_proposalversion"."snapshot"' in q for q in sql) <= 1


def test_a_proposal_sent_once_or_never_needs_no_version_query(owner_client, business, owner):
    """The current version (with its sender) is the only one when it is version 1."""
    once = _busy_proposal(business, owner, sections_count=1, items=2, rounds=1)
    twice = _busy_proposal(business, owner, sections_count=1, items=2, rounds=2)
    draft = make_proposal(business=business, acting_user=owner, title="Not yet")
    counts = {}
    for name, proposal in (("once", once), ("twice", twice), ("draft", draft)):
        url = reverse("dashboard:proposal_detail", args=[proposal.pk])
        owner_client.get(url)
        with CaptureQueriesContext(connection) as queries:
            page = html(owner_client.get(url))
        # The version list reads by proposal (a draft's page also counts the month's sends).
        versions = [
            q
            for q in queries.captured_queries
            if 'FROM "proposals_proposalversion"' in q["sql"]
            and '"proposals_proposalversion"."proposal_id" = ' in q["sql"]
        ]
        counts[name] = (len(queries.captured_queries), len(versions))
        if name != "draft":
            owner_name = owner.get_full_name()
            assert page.count("<strong>Version ") == (1 if name == "once" else 2)
            assert f"by {owner_name}" in page and "Client's link" in page
        else:
            assert "Not sent yet." in page
    assert counts["once"] == (counts["twice"][0] - 1, 0)
    assert counts["draft"][1] == 0


def test_send_records_a_delivery_and_says_so(owner_client, business):
    proposal = make_proposal(business=business)
    response = owner_client.post(
        reverse("dashboard:proposal_send", args=[proposal.pk]), {"message": "Hello there"}
    )
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.SENT
    assert proposal.deliveries.count() == 1
    assert "Sent to" in html(owner_client.get(response["Location"]))


def test_a_double_submitted_send_form_sends_once(owner_client, business):
    proposal = make_proposal(business=business)
    page = html(owner_client.get(reverse("dashboard:proposal_detail", args=[proposal.pk])))
    assert f'name="revision" value="{proposal.revision}"' in page
    url = reverse("dashboard:proposal_send", args=[proposal.pk])
    form = {"message": "Hi", "revision": proposal.revision}
    owner_client.post(url, form)
    response = owner_client.post(url, form)
    assert "changed since the page was loaded" in html(owner_client.get(response["Location"]))
    assert proposal.versions.count() == 1
    assert proposal.deliveries.count() == 1


def test_send_refusal_is_a_message_not_an_error(owner_client, business, settings):
    settings.FREE_PLAN_MONTHLY_SENDS = 0
    proposal = make_proposal(business=business)
    response = owner_client.post(reverse("dashboard:proposal_send", args=[proposal.pk]))
    page = html(owner_client.get(response["Location"]))
    assert "Not sent" in page and "free plan" in page
    empty = make_proposal(business=business, sections=[])
    settings.FREE_PLAN_MONTHLY_SENDS = 5
    response = owner_client.post(reverse("dashboard:proposal_send", args=[empty.pk]))
    assert "Add at least one line item" in html(owner_client.get(response["Location"]))


def test_withdraw_and_duplicate(owner_client, business):
    proposal, _ = make_sent_proposal(business=business)
    response = owner_client.post(reverse("dashboard:proposal_withdraw", args=[proposal.pk]))
    assert "Withdrawn" in html(owner_client.get(response["Location"]))
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.WITHDRAWN
    # Withdrawing twice is a clear message, not an error page.
    response = owner_client.post(reverse("dashboard:proposal_withdraw", args=[proposal.pk]))
    assert "Only a sent proposal" in html(owner_client.get(response["Location"]))

    response = owner_client.post(
        reverse("dashboard:proposal_duplicate", args=[proposal.pk]), {"title": "Spring garden"}
    )
    copy = Proposal.objects.exclude(pk=proposal.pk).get()
    assert response["Location"] == reverse("dashboard:proposal_edit", args=[copy.pk])
    assert copy.status == Proposal.Status.DRAFT
    assert copy.title == "Spring garden"


def test_actions_refuse_get(owner_client, business):
    proposal = make_proposal(business=business)
    for name in ("proposal_send", "proposal_withdraw", "proposal_duplicate"):
        assert owner_client.get(reverse(f"dashboard:{name}", args=[proposal.pk])).status_code == 405


def test_preview_renders_working_copy_without_counting_a_view(owner_client, business):
    proposal, version = make_sent_proposal(business=business)
    response = owner_client.get(reverse("dashboard:proposal_preview", args=[proposal.pk]))
    assert response.status_code == 200
    page = html(response)
    assert "Preview" in page and "Website redesign" in page
    assert "Accept proposal" not in page
    assert version.token not in page
    assert not ProposalView.objects.exists()
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.SENT


def test_preview_update_total_counts_ticked_options(owner_client, business):
    proposal = make_proposal(business=business)
    optional = [
        i for s in selectors.working_copy_sections(proposal) for i in s["items"] if i["optional"]
    ][0]
    url = reverse("dashboard:proposal_preview", args=[proposal.pk])
    assert "$2,346.00" in html(owner_client.get(url))
    page = html(owner_client.get(url, {"update_total": "1", "item": optional["key"]}))
    assert "$2,586.00" in page


def test_delivery_failure_is_on_the_page(owner_client, business):
    from proposals.models import Delivery

    proposal, _ = make_sent_proposal(business=business)
    Delivery.objects.filter(proposal=proposal).update(
        state=Delivery.State.FAILED_PERMANENT, last_error="550 mailbox unavailable"
    )
    page = html(owner_client.get(reverse("dashboard:proposal_detail", args=[proposal.pk])))
    assert "550 mailbox unavailable" in page
    assert "An email failed" in page


def test_timeline_names_the_client_and_system(owner_client, business):
    proposal, version = make_sent_proposal(business=business)
    services.proposal_mark_viewed(version=version, ip="203.0.113.9", user_agent="UA")
    page = html(owner_client.get(reverse("dashboard:proposal_detail", args=[proposal.pk])))
    assert "The client opened version 1" in page
    assert Activity.objects.filter(proposal=proposal, kind=Activity.Kind.VIEWED).exists()


def test_retry_a_failed_delivery_from_the_page(owner_client, business):
    from proposals.models import Delivery

    proposal, _ = make_sent_proposal(business=business)
    delivery = proposal.deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(
        state=Delivery.State.FAILED_PERMANENT, last_error="550 mailbox unavailable"
    )
    url = reverse("dashboard:delivery_retry", args=[proposal.pk, delivery.pk])
    assert url in html(owner_client.get(reverse("dashboard:proposal_detail", args=[proposal.pk])))
    response = owner_client.post(url)
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.PENDING
    assert "queued again" in html(owner_client.get(response["Location"]))


def test_retrying_a_sent_delivery_is_a_message(owner_client, business):
    from proposals.models import Delivery

    proposal, _ = make_sent_proposal(business=business)
    delivery = proposal.deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.State.SENT)
    response = owner_client.post(
        reverse("dashboard:delivery_retry", args=[proposal.pk, delivery.pk])
    )
    assert response.status_code == 302
    assert "already sent" in html(owner_client.get(response["Location"]))


def test_fixed_urls_follow_the_script_prefix():
    from django.urls import set_script_prefix

    from proposals.templatetags.proposal_tags import fixed_url

    assert fixed_url("dashboard:proposal_list") == reverse("dashboard:proposal_list") == "/app/"
    try:
        set_script_prefix("/proposals/")
        assert fixed_url("dashboard:proposal_list") == "/proposals/app/"
    finally:
        set_script_prefix("/")
    assert fixed_url("dashboard:client_list") == reverse("dashboard:client_list")
