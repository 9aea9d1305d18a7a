"""Dashboard pages for clients, templates and settings."""

import pytest
from django.urls import reverse

from proposals import services
from proposals.models import Client, Proposal, ProposalSettings, ProposalTemplate
from tests.proposals.factories import ClientFactory

pytestmark = pytest.mark.django_db


def html(response) -> str:
    return response.content.decode()


def template_post(**overrides) -> dict:
    data = {
        "name": "Website starter",
        "title": "Website",
        "intro": "<p>Intro</p>",
        "terms": "<p>Terms</p>",
        "s-count": "1",
        "s-0-title": "Build",
        "s-0-i-count": "2",
        "s-0-i-0-name": "Pages",
        "s-0-i-0-quantity": "5",
        "s-0-i-0-unit_price": "100",
        "s-0-i-1-name": "",
    }
    data.update(overrides)
    return data


# --- clients --------------------------------------------------------------------------------
def test_clients_empty_state(owner_client):
    assert "No clients yet" in html(owner_client.get(reverse("dashboard:client_list")))


def test_create_client_and_list_it(owner_client, business):
    response = owner_client.post(
        reverse("dashboard:client_create"),
        {"name": "Ada Lovelace", "email": "ADA@example.org", "company": ""},
    )
    assert response.status_code == 302
    client = Client.objects.get(business=business)
    assert client.email == "ada@example.org"
    page = html(owner_client.get(response["Location"]))
    assert "Client Ada Lovelace added." in page and "ada@example.org" in page


def test_create_client_from_empty_proposal_list_goes_on_to_the_proposal(owner_client, business):
    response = owner_client.post(
        reverse("dashboard:client_create"),
        {"name": "Ada", "email": "ada@example.org", "next": "new_proposal"},
    )
    client = Client.objects.get(business=business)
    assert response["Location"] == reverse("dashboard:proposal_create") + f"?client={client.pk}"


def test_client_form_errors_next_to_fields(owner_client):
    response = owner_client.post(
        reverse("dashboard:client_create"), {"name": "", "email": "not-an-email"}
    )
    assert response.status_code == 400
    page = html(response)
    assert '<p class="field-error" id="id_name-error">' in page
    assert '<p class="field-error" id="id_email-error">' in page
    assert 'aria-invalid="true"' in page
    assert not Client.objects.exists()


def test_edit_client(owner_client, business):
    client = ClientFactory(business=business, name="Old")
    url = reverse("dashboard:client_edit", args=[client.pk])
    assert 'value="Old"' in html(owner_client.get(url))
    response = owner_client.post(url, {"name": "New", "email": "new@example.org"})
    assert response.status_code == 302
    client.refresh_from_db()
    assert client.name == "New"


def test_client_search(owner_client, business):
    ClientFactory(business=business, name="Ada Lovelace")
    ClientFactory(business=business, name="Grace Hopper")
    page = html(owner_client.get(reverse("dashboard:client_list"), {"q": "grace"}))
    assert "Grace Hopper" in page and "Ada Lovelace" not in page


# --- templates ------------------------------------------------------------------------------
def test_templates_empty_state(owner_client):
    assert "No templates yet" in html(owner_client.get(reverse("dashboard:template_list")))


def test_create_edit_delete_template(owner_client, business):
    response = owner_client.post(reverse("dashboard:template_create"), template_post())
    assert response.status_code == 302
    template = ProposalTemplate.objects.get(business=business)
    assert template.sections[0]["items"][0]["name"] == "Pages"
    assert len(template.sections[0]["items"]) == 1

    url = reverse("dashboard:template_edit", args=[template.pk])
    assert 'value="Pages"' in html(owner_client.get(url))
    owner_client.post(url, template_post(name="Renamed"))
    template.refresh_from_db()
    assert template.name == "Renamed"

    delete = reverse("dashboard:template_delete", args=[template.pk])
    assert "Delete “Renamed”?" in html(owner_client.get(delete))
    response = owner_client.post(delete)
    assert response.status_code == 302
    assert not ProposalTemplate.objects.exists()
    assert "deleted" in html(owner_client.get(response["Location"]))


def test_template_errors_next_to_fields(owner_client):
    response = owner_client.post(
        reverse("dashboard:template_create"),
        template_post(name="", **{"s-0-i-0-quantity": "-1"}),
    )
    assert response.status_code == 400
    page = html(response)
    assert '<p class="field-error" id="id_name-error">' in page
    assert '<p class="field-error" id="id_s-0-i-0-quantity-error">' in page


def test_new_proposal_from_template(owner_client, business):
    ClientFactory(business=business)
    template = services.template_create(
        business=business, acting_user=None, name="Starter", title="Website build",
        terms="<p>Net 30</p>",
        sections=[{"title": "Build", "items": [{"name": "Pages", "quantity": "5",
                                                 "unit_price": "100"}]}],
    )  # fmt: skip
    page = html(owner_client.get(reverse("dashboard:proposal_create"), {"template": template.pk}))
    assert 'value="Website build"' in page
    assert 'value="Pages"' in page
    assert "Net 30" in page
    assert "from “Starter”" in page


# --- settings -------------------------------------------------------------------------------
def settings_post(**overrides) -> dict:
    data = {
        "brand_name": "Acme Studio",
        "brand_color": "#aa3300",
        "remind_unopened_after_days": "2",
        "remind_unanswered_after_days": "0",
        "default_currency": "EUR",
    }
    data.update(overrides)
    return data


def test_settings_save(owner_client, business):
    url = reverse("dashboard:settings")
    assert owner_client.get(url).status_code == 200
    response = owner_client.post(url, settings_post())
    assert response.status_code == 302
    prefs = ProposalSettings.objects.get(business=business)
    assert prefs.brand_name == "Acme Studio" and prefs.brand_color == "#aa3300"
    assert prefs.remind_unanswered_after_days == 0
    business.refresh_from_db()
    assert business.currency == "EUR"
    assert "Settings saved." in html(owner_client.get(url))


def test_settings_errors_next_to_fields(owner_client, business):
    response = owner_client.post(
        reverse("dashboard:settings"),
        settings_post(
            brand_color="red; }", remind_unopened_after_days="-3", default_currency="XXX"
        ),
    )
    assert response.status_code == 400
    page = html(response)
    for name in ("brand_color", "remind_unopened_after_days", "default_currency"):
        assert f'<p class="field-error" id="id_{name}-error">' in page
    assert not ProposalSettings.objects.exists()


def test_new_proposal_uses_the_default_currency(owner_client, business):
    ClientFactory(business=business)
    owner_client.post(reverse("dashboard:settings"), settings_post(default_currency="GBP"))
    page = html(owner_client.get(reverse("dashboard:proposal_create")))
    assert '<option value="GBP" selected>' in page
    assert not Proposal.objects.exists()
