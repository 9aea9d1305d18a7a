"""Dashboard: creating and editing a proposal in its editor."""

import pytest
from django.urls import reverse

from proposals import selectors, services
from proposals.models import Proposal
from tests.proposals.factories import (
    ClientFactory,
    make_proposal,
    make_sent_proposal,
)
from tests.proposals.pages import html, tag_with_id

pytestmark = pytest.mark.django_db


def editor_post(**overrides) -> dict:
    """A valid create/edit POST: one section with two items and one optional one."""
    data = {
        "title": "Garden makeover",
        "currency": "USD",
        "valid_until": "",
        "intro": "<p>Hello</p>",
        "terms": "",
        "s-count": "1",
        "s-0-title": "Work",
        "s-0-i-count": "3",
        "s-0-i-0-name": "Design",
        "s-0-i-0-quantity": "1",
        "s-0-i-0-unit_price": "500",
        "s-0-i-1-name": "Planting",
        "s-0-i-1-quantity": "2",
        "s-0-i-1-unit_price": "120.50",
        "s-0-i-1-tax_rate": "20",
        "s-0-i-2-name": "Pond",
        "s-0-i-2-quantity": "1",
        "s-0-i-2-unit_price": "900",
        "s-0-i-2-optional": "on",
    }
    data.update(overrides)
    return data


# --- create and edit ------------------------------------------------------------------------
def test_create_page_without_clients_asks_for_one(owner_client):
    page = html(owner_client.get(reverse("dashboard:proposal_create")))
    assert "Add a client first" in page


def test_create_proposal_with_items(owner_client, business):
    ada = ClientFactory(business=business)
    response = owner_client.post(
        reverse("dashboard:proposal_create"), editor_post(client=str(ada.pk))
    )
    proposal = Proposal.objects.get(business=business)
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:proposal_detail", args=[proposal.pk])
    assert proposal.title == "Garden makeover"
    items = [i for s in selectors.working_copy_sections(proposal) for i in s["items"]]
    assert [i["name"] for i in items] == ["Design", "Planting", "Pond"]
    assert items[2]["optional"] is True and items[2]["selected"] is False
    page = html(owner_client.get(response["Location"]))
    assert "created as a draft" in page
    assert "$789.20" in page  # 500 + 2 × 120.50 × 1.2; the optional pond is not counted


def test_create_shows_errors_next_to_fields(owner_client, business):
    ada = ClientFactory(business=business)
    response = owner_client.post(
        reverse("dashboard:proposal_create"),
        editor_post(client=str(ada.pk), title="", **{"s-0-i-1-unit_price": "abc"}),
    )
    assert response.status_code == 400
    page = html(response)
    for field_id in ("id_title", "id_s-0-i-1-unit_price"):
        tag = tag_with_id(page, field_id)
        assert 'aria-invalid="true"' in tag
        assert f"{field_id}-error" in tag  # aria-describedby points at the message
        assert f'<p class="field-error" id="{field_id}-error">' in page
    assert "Please fix the problems below" in page
    assert 'aria-invalid="true"' not in tag_with_id(page, "id_s-0-i-0-name")
    assert not Proposal.objects.exists()


def test_item_without_price_is_an_error_but_blank_rows_are_ignored(owner_client, business):
    ada = ClientFactory(business=business)
    data = editor_post(client=str(ada.pk), **{"s-0-i-1-unit_price": "", "s-0-i-count": "4"})
    response = owner_client.post(reverse("dashboard:proposal_create"), data)
    assert response.status_code == 400
    assert "Enter a price" in html(response)
    data["s-0-i-1-unit_price"] = "10"
    response = owner_client.post(reverse("dashboard:proposal_create"), data)
    assert response.status_code == 302


def test_foreign_client_id_is_refused(owner_client, business, other_business):
    ClientFactory(business=business)
    foreign = ClientFactory(business=other_business)
    response = owner_client.post(
        reverse("dashboard:proposal_create"), editor_post(client=str(foreign.pk))
    )
    assert response.status_code == 400
    assert not Proposal.objects.exists()


def test_add_row_without_javascript_keeps_the_input(owner_client, business):
    ada = ClientFactory(business=business)
    response = owner_client.post(
        reverse("dashboard:proposal_create"), editor_post(client=str(ada.pk), add_item="0")
    )
    page = html(response)
    assert response.status_code == 200
    assert 'name="s-0-i-3-name"' in page
    assert 'value="Planting"' in page
    assert "field-error" not in page
    response = owner_client.post(
        reverse("dashboard:proposal_create"), editor_post(client=str(ada.pk), add_section="1")
    )
    assert 'name="s-1-i-0-name"' in html(response)
    assert not Proposal.objects.exists()


def test_edit_prefills_and_saves(owner_client, business, owner):
    proposal = make_proposal(business=business, acting_user=owner)
    page = html(owner_client.get(reverse("dashboard:proposal_edit", args=[proposal.pk])))
    assert 'value="Website redesign"' in page
    assert 'value="Development"' in page
    assert 'value="95.5"' in page
    data = editor_post(client=str(proposal.client_id), title="Renamed", revision=proposal.revision)
    response = owner_client.post(reverse("dashboard:proposal_edit", args=[proposal.pk]), data)
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.title == "Renamed"


def test_edit_detects_a_concurrent_change(owner_client, business):
    proposal = make_proposal(business=business)
    stale = proposal.revision
    services.proposal_update(
        proposal=proposal, acting_user=None, title="Theirs", client=proposal.client,
        currency="USD", valid_until=None, intro="", terms="", sections=[],
    )  # fmt: skip
    data = editor_post(client=str(proposal.client_id), title="Mine", revision=stale)
    response = owner_client.post(reverse("dashboard:proposal_edit", args=[proposal.pk]), data)
    assert response.status_code == 400
    assert "changed by someone else" in html(response)
    proposal.refresh_from_db()
    assert proposal.title == "Theirs"


def test_accepted_proposal_is_read_only(owner_client, business):
    proposal, version = make_sent_proposal(business=business)
    services.proposal_accept(
        version=version, signed_name="Ada", agreed=True, selected_item_keys=[], ip=None,
        user_agent="",
    )  # fmt: skip
    detail = html(owner_client.get(reverse("dashboard:proposal_detail", args=[proposal.pk])))
    assert reverse("dashboard:proposal_edit", args=[proposal.pk]) not in detail
    assert "Accepted" in detail and "Signed by" in detail
    response = owner_client.get(reverse("dashboard:proposal_edit", args=[proposal.pk]))
    assert response.status_code == 302
    follow = html(owner_client.get(response["Location"]))
    assert "can no longer be edited" in follow
    data = editor_post(client=str(proposal.client_id))
    response = owner_client.post(reverse("dashboard:proposal_edit", args=[proposal.pk]), data)
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.title == "Website redesign"
