"""The API's other resources: the business and its usage, clients, templates and deliveries."""

import pytest

from tests.proposals.factories import item, make_proposal, sections

pytestmark = pytest.mark.django_db


def test_business_profile_and_usage(api, business, draft):
    api.post(f"/api/v1/proposals/{draft.pk}/send/", format="json")

    data = api.get("/api/v1/business/").json()

    assert data["id"] == business.pk
    assert data["usage"] == {"sends_this_month": 1, "monthly_send_limit": 5}


def test_clients_crud(api, business):
    created = api.post(
        "/api/v1/clients/", {"name": "Ann", "email": "ANN@Example.org"}, format="json"
    )
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    assert created.json()["email"] == "ann@example.org"

    patched = api.patch(f"/api/v1/clients/{pk}/", {"company": "Acme"}, format="json")
    assert patched.json()["company"] == "Acme"
    assert patched.json()["name"] == "Ann"

    make_proposal(client=business_client(business, pk))
    assert api.delete(f"/api/v1/clients/{pk}/").json()["code"] == "client_in_use"
    lonely = api.post("/api/v1/clients/", {"name": "B", "email": "b@example.org"}, format="json")
    assert api.delete(f"/api/v1/clients/{lonely.json()['id']}/").status_code == 204


def business_client(business, pk):
    from proposals.models import Client

    return Client.objects.get(business=business, pk=pk)


def test_templates_crud(api):
    created = api.post(
        "/api/v1/templates/",
        {"name": "Std", "sections": sections(item("Hour", "2", "10.5"))},
        format="json",
    )
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    assert created.json()["sections"][0]["items"][0]["unit_price"] == "10.5000"

    patched = api.patch(f"/api/v1/templates/{pk}/", {"title": "Standard"}, format="json")
    assert patched.json()["title"] == "Standard"
    assert patched.json()["sections"][0]["items"][0]["name"] == "Hour"

    assert api.delete(f"/api/v1/templates/{pk}/").status_code == 204
    assert api.get(f"/api/v1/templates/{pk}/").status_code == 404


def test_deliveries_show_state_attempts_and_last_error(api, draft):
    from proposals.models import Delivery, DeliveryAttempt

    api.post(f"/api/v1/proposals/{draft.pk}/send/", format="json")
    delivery = Delivery.objects.get(proposal=draft)
    Delivery.objects.filter(pk=delivery.pk).update(
        state="failed_permanent", last_error="550 no such user", attempt_count=1
    )
    DeliveryAttempt.objects.create(
        delivery=delivery,
        number=1,
        started_at=delivery.created_at,
        outcome="permanent_failure",
        smtp_code=550,
        error="no such user",
    )

    listed = api.get("/api/v1/deliveries/?state=failed_permanent").json()["results"]
    detail = api.get(f"/api/v1/deliveries/{delivery.pk}/").json()

    assert [d["id"] for d in listed] == [delivery.pk]
    assert detail["last_error"] == "550 no such user"
    assert detail["attempts"][0]["smtp_code"] == 550
