"""The payment schedule on the dashboard's editor and templates, and on the client's page."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from proposals import services
from proposals.models import Proposal, ProposalTemplate
from tests.proposals.factories import ClientFactory, accept, item, make_proposal, sections
from tests.proposals.pages import html, tag_with_id
from tests.proposals.test_views_dashboard_editor import editor_post

pytestmark = pytest.mark.django_db


def schedule_post(**rows) -> dict:
    """A 30% deposit, a fixed 100 due in 14 days and the balance on a date: valid."""
    due = (timezone.localdate() + timedelta(days=40)).isoformat()
    data = {
        "ps-d-amount_type": "percent",
        "ps-d-value": "30",
        "ps-count": "2",
        "ps-0-amount_type": "fixed",
        "ps-0-value": "100",
        "ps-0-due": "days_after",
        "ps-0-due_days": "14",
        "ps-0-label": "Planting day",
        "ps-1-amount_type": "balance",
        "ps-1-due": "date",
        "ps-1-due_date": due,
    }
    data.update(rows)
    return data


def test_the_editor_saves_a_schedule(owner_client, business):
    ada = ClientFactory(business=business)
    response = owner_client.post(
        reverse("dashboard:proposal_create"), editor_post(client=str(ada.pk), **schedule_post())
    )
    assert response.status_code == 302
    proposal = Proposal.objects.get(business=business)
    assert [(p["kind"], p["label"], p["amount_type"], p["value"]) for p in
            proposal.payment_schedule] == [
        ("deposit", "Deposit", "percent", "30.00"),
        ("milestone", "Planting day", "fixed", "100.00"),
        ("milestone", "Payment 2", "balance", None),
    ]  # fmt: skip
    page = html(owner_client.get(reverse("dashboard:proposal_edit", args=[proposal.pk])))
    assert 'value="Planting day"' in page and 'name="ps-count" value="2"' in page


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ({"ps-d-value": "60", "ps-0-amount_type": "percent", "ps-0-value": "60"},
         "add up to 120%"),
        ({"ps-d-value": "-5"}, "more than 0 and at most 100"),
        ({"ps-d-amount_type": "fixed", "ps-d-value": "0"}, "amount must be more than 0"),
        ({"ps-d-amount_type": "fixed", "ps-d-value": "5000"}, "more than the total"),
        ({"ps-1-due_date": "2020-01-01"}, "has already passed"),
        ({"ps-count": "13"}, "at most 12 milestones"),
        ({"ps-count": "1"}, "arrived incomplete"),
    ],
)  # fmt: skip
def test_a_bad_schedule_is_a_form_error_and_nothing_is_saved(owner_client, business, rows, message):
    ada = ClientFactory(business=business)
    response = owner_client.post(
        reverse("dashboard:proposal_create"),
        editor_post(client=str(ada.pk), **schedule_post(**rows)),
    )
    assert response.status_code == 400
    page = html(response)
    assert message in page
    assert 'id="schedule-errors"' in page or "form-errors" in page
    assert not Proposal.objects.filter(business=business).exists()


def test_a_bad_number_is_shown_next_to_its_field(owner_client, business):
    ada = ClientFactory(business=business)
    response = owner_client.post(
        reverse("dashboard:proposal_create"),
        editor_post(client=str(ada.pk), **schedule_post(**{"ps-0-value": "abc"})),
    )
    assert response.status_code == 400
    assert 'aria-invalid="true"' in tag_with_id(html(response), "id_ps-0-value")


def test_add_payment_without_javascript_keeps_the_rows(owner_client, business):
    ada = ClientFactory(business=business)
    response = owner_client.post(
        reverse("dashboard:proposal_create"),
        editor_post(client=str(ada.pk), add_payment="1", **schedule_post()),
    )
    page = html(response)
    assert response.status_code == 200
    assert 'name="ps-count" value="3"' in page and 'value="Planting day"' in page
    assert not Proposal.objects.filter(business=business).exists()


def test_editing_a_sent_proposal_does_not_change_the_sent_schedule(owner_client, business):
    ada = ClientFactory(business=business)
    owner_client.post(
        reverse("dashboard:proposal_create"), editor_post(client=str(ada.pk), **schedule_post())
    )
    proposal = Proposal.objects.get(business=business)
    version = services.proposal_send(proposal=proposal, acting_user=None)
    proposal.refresh_from_db()
    response = owner_client.post(
        reverse("dashboard:proposal_edit", args=[proposal.pk]),
        editor_post(client=str(ada.pk), revision=str(proposal.revision),
                    **schedule_post(**{"ps-d-value": "50"})),
    )  # fmt: skip
    assert response.status_code == 302
    proposal.refresh_from_db()
    version.refresh_from_db()
    assert proposal.payment_schedule[0]["value"] == "50.00"
    assert version.snapshot["payment_schedule"][0]["value"] == "30.00"
    page = html(owner_client.get(reverse("public:proposal", args=[version.token])))
    assert "30%" in page and "50%" not in page


def test_a_template_carries_its_schedule_into_the_editor(owner_client, business):
    ClientFactory(business=business)
    response = owner_client.post(
        reverse("dashboard:template_create"),
        {"name": "Garden", "title": "", "intro": "", "terms": "", "s-count": "1",
         "s-0-title": "", "s-0-i-count": "1", "s-0-i-0-name": "Work",
         "s-0-i-0-quantity": "1", "s-0-i-0-unit_price": "800", **schedule_post()},
    )  # fmt: skip
    assert response.status_code == 302
    template = ProposalTemplate.objects.get(business=business)
    assert len(template.payment_schedule) == 3
    page = html(owner_client.get(reverse("dashboard:proposal_create") + f"?template={template.pk}"))
    assert 'value="Planting day"' in page
    bad = owner_client.post(
        reverse("dashboard:template_edit", args=[template.pk]),
        {"name": "Garden", "s-count": "0", **schedule_post(**{"ps-d-amount_type": "fixed",
                                                              "ps-d-value": "900"})},
    )  # fmt: skip
    assert bad.status_code == 400 and "more than the total" in html(bad)
    template.refresh_from_db()
    assert template.payment_schedule[0]["value"] == "30.00"


# --- the client's page -------------------------------------------------------------------------
SCHEDULE = [
    {"kind": "deposit", "amount_type": "percent", "value": "30"},
    {"kind": "milestone", "label": "Handover", "amount_type": "balance", "due": "days_after",
     "due_days": 14},
]  # fmt: skip


def _sent(business, locale="en-US"):
    business.locale = locale
    business.save(update_fields=["locale"])
    proposal = make_proposal(
        client=ClientFactory(business=business),
        currency="EUR",
        sections=sections(item("Plan", "1", "1000.00"), item("Pond", "1", "234.50", optional=True)),
        payment_schedule=SCHEDULE,
    )
    return proposal, services.proposal_send(proposal=proposal, acting_user=None)


def test_the_client_page_shows_the_schedule_in_the_business_locale(client, business):
    _, version = _sent(business, locale="de-DE")
    page = html(client.get(reverse("public:proposal", args=[version.token])))
    assert "Payment schedule" in page
    assert "300,00\xa0€" in page and "700,00\xa0€" in page  # 30% of 1.000,00 € and the balance
    assert "Due on acceptance" in page and "14 days after acceptance" in page
    ticked = html(
        client.get(
            reverse("public:proposal", args=[version.token]),
            {"update_total": "1", "item": [k for s in version.snapshot["sections"]
                                           for i in s["items"] if i["optional"]
                                           for k in [i["key"]]]},
        )
    )  # fmt: skip
    assert "370,35\xa0€" in ticked  # 30% of 1.234,50 €


def test_the_accepted_copy_shows_the_agreed_payments(client, business):
    _, version = _sent(business)
    accept(version)
    page = html(client.get(reverse("public:proposal", args=[version.token])))
    due = timezone.localdate() + timedelta(days=14)
    assert "€300.00" in page and "€700.00" in page
    assert due.strftime("%-d %B %Y") in page


def test_a_proposal_without_a_schedule_shows_none(client, business):
    business.save()
    proposal = make_proposal(client=ClientFactory(business=business))
    version = services.proposal_send(proposal=proposal, acting_user=None)
    assert "Payment schedule" not in html(
        client.get(reverse("public:proposal", args=[version.token]))
    )


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_schedule_costs_no_query_on_the_pages_that_show_it(client, owner_client, business):
    plain = make_proposal(client=ClientFactory(business=business))
    plain_version = services.proposal_send(proposal=plain, acting_user=None)
    scheduled, version = _sent(business)
    plain_url = reverse("public:proposal", args=[plain_version.token])
    url = reverse("public:proposal", args=[version.token])
    _queries(client, plain_url), _queries(client, url)  # the first views: sent → viewed
    assert _queries(client, plain_url) == _queries(client, url)
    for view in (
        "dashboard:proposal_detail",
        "dashboard:proposal_edit",
        "dashboard:proposal_preview",
    ):
        assert _queries(owner_client, reverse(view, args=[plain.pk])) == _queries(
            owner_client, reverse(view, args=[scheduled.pk])
        )
    accept(plain_version)
    accept(version)
    assert _queries(client, plain_url) == _queries(client, url)
    # Accepted, the business's page also shows each payment's invoice: one read for them all.
    assert _queries(owner_client, reverse("dashboard:proposal_detail", args=[plain.pk])) + 1 == (
        _queries(owner_client, reverse("dashboard:proposal_detail", args=[scheduled.pk]))
    )


def test_a_deposit_amount_without_its_kind_is_an_error_not_dropped(owner_client, business):
    ada = ClientFactory(business=business)
    response = owner_client.post(
        reverse("dashboard:proposal_create"),
        editor_post(client=str(ada.pk), **schedule_post(**{"ps-d-amount_type": ""})),
    )
    assert response.status_code == 400
    assert 'aria-invalid="true"' in tag_with_id(html(response), "id_ps-d-amount_type")
    assert not Proposal.objects.filter(business=business).exists()
