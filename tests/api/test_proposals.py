"""The proposals API: create, read, update with ETags, actions, deletes, sessions and amounts
(lists are in test_lists.py, the other resources in test_resources.py)."""

from decimal import Decimal

import pytest

from proposals.models import Activity, Proposal
from tests.proposals.factories import item, make_proposal, sections

pytestmark = pytest.mark.django_db


def _body(customer, **extra):
    body = {
        "client": customer.pk,
        "title": "Garden design",
        "currency": "EUR",
        "sections": [
            {"title": "Plan", "items": [{"name": "Survey", "quantity": "2", "unit_price": "99.99"}]}
        ],
    }
    body.update(extra)
    return body


def test_create_returns_the_proposal_with_totals_from_the_shared_money_code(api, customer):
    response = api.post("/api/v1/proposals/", _body(customer), format="json")

    assert response.status_code == 201, response.json()
    data = response.json()
    proposal = Proposal.objects.get(pk=data["id"])
    assert response["Location"] == f"/api/v1/proposals/{proposal.pk}/"
    assert response["ETag"] == f'"{proposal.pk}-{proposal.revision}"'
    assert data["number"] == proposal.display_number
    assert data["totals"] == {
        "currency": "EUR",
        "subtotal": "199.98",
        "discount": "0.00",
        "tax": "0.00",
        "total": "199.98",
    }
    assert data["total"] == "199.98"
    assert Activity.objects.filter(proposal=proposal, kind="created").count() == 1


def test_create_from_a_template(api, customer):
    template = api.post(
        "/api/v1/templates/",
        {"name": "Std", "title": "Standard", "sections": sections(item("Hour", "1", "50"))},
        format="json",
    ).json()

    response = api.post(
        "/api/v1/proposals/", {"client": customer.pk, "template": template["id"]}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert response.json()["title"] == "Standard"
    assert response.json()["totals"]["total"] == "50.00"


def test_retrieve_sends_an_etag(api, draft):
    response = api.get(f"/api/v1/proposals/{draft.pk}/")

    assert response.status_code == 200
    assert response["ETag"] == f'"{draft.pk}-{draft.revision}"'
    assert [i["name"] for i in response.json()["sections"][0]["items"]] == [
        "Design",
        "Development",
        "Hosting (12 months)",
    ]


def test_patch_changes_only_the_fields_sent(api, draft):
    etag = api.get(f"/api/v1/proposals/{draft.pk}/")["ETag"]

    response = api.patch(
        f"/api/v1/proposals/{draft.pk}/",
        {"title": "New title"},
        format="json",
        HTTP_IF_MATCH=etag,
    )

    assert response.status_code == 200, response.json()
    draft.refresh_from_db()
    assert draft.title == "New title"
    assert draft.revision == 2
    assert response["ETag"] == f'"{draft.pk}-2"'
    assert len(response.json()["sections"][0]["items"]) == 3


def test_stale_if_match_is_412_and_changes_nothing(api, draft):
    stale = f'"{draft.pk}-{draft.revision}"'
    api.patch(f"/api/v1/proposals/{draft.pk}/", {"title": "First"}, format="json")

    response = api.patch(
        f"/api/v1/proposals/{draft.pk}/", {"title": "Second"}, format="json", HTTP_IF_MATCH=stale
    )

    assert response.status_code == 412
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "precondition_failed"
    draft.refresh_from_db()
    assert draft.title == "First"
    assert draft.revision == 2


def test_if_match_is_checked_again_under_the_lock(api, draft, monkeypatch):
    """A write landing between our read and the service's lock is caught by the service."""
    from proposals import services

    etag = f'"{draft.pk}-{draft.revision}"'
    real_update = services.proposal_update

    def racing_update(**kwargs):
        Proposal.objects.filter(pk=draft.pk).update(revision=draft.revision + 1)
        return real_update(**kwargs)

    monkeypatch.setattr(services, "proposal_update", racing_update)
    response = api.patch(
        f"/api/v1/proposals/{draft.pk}/", {"title": "Mine"}, format="json", HTTP_IF_MATCH=etag
    )

    assert response.status_code == 412
    assert response.json()["code"] == "concurrent_edit"
    draft.refresh_from_db()
    assert draft.title != "Mine"


def test_send_withdraw_and_duplicate(api, draft):
    sent = api.post(f"/api/v1/proposals/{draft.pk}/send/", {"message": "Hi"}, format="json")
    assert sent.status_code == 200, sent.json()
    assert sent.json()["status"] == "sent"
    assert sent.json()["current_version"] == 1

    versions = api.get(f"/api/v1/proposals/{draft.pk}/versions/").json()["results"]
    assert [v["number"] for v in versions] == [1]
    version = api.get(f"/api/v1/proposals/{draft.pk}/versions/1/").json()
    assert version["snapshot"]["totals"]["total"]
    deliveries = api.get(f"/api/v1/proposals/{draft.pk}/deliveries/").json()["results"]
    assert [d["kind"] for d in deliveries] == ["proposal"]

    withdrawn = api.post(f"/api/v1/proposals/{draft.pk}/withdraw/", format="json")
    assert withdrawn.status_code == 200
    assert withdrawn.json()["status"] == "withdrawn"

    again = api.post(f"/api/v1/proposals/{draft.pk}/withdraw/", format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"

    copy = api.post(f"/api/v1/proposals/{draft.pk}/duplicate/", format="json")
    assert copy.status_code == 201
    assert copy.json()["status"] == "draft"
    kinds = [
        a["kind"] for a in api.get(f"/api/v1/proposals/{draft.pk}/activity/").json()["results"]
    ]
    assert kinds == ["duplicated", "withdrawn", "sent", "created"]


def test_duplicate_takes_the_new_title(api, draft):
    # Issue 13 pt 8: the copy's title goes into the client's email subject, so the caller
    # names it; without one it is the original's with " (copy)".
    named = api.post(
        f"/api/v1/proposals/{draft.pk}/duplicate/", {"title": "Garden, phase 2"}, format="json"
    )
    assert named.status_code == 201, named.json()
    assert named.json()["title"] == "Garden, phase 2"
    assert Proposal.objects.get(pk=named.json()["id"]).title == "Garden, phase 2"

    unnamed = api.post(f"/api/v1/proposals/{draft.pk}/duplicate/", format="json")
    assert unnamed.json()["title"] == f"{draft.title} (copy)"


@pytest.mark.parametrize(("title", "status"), [("   ", 422), ("", 400), ("x" * 201, 400)])
def test_duplicate_with_a_bad_title_makes_no_copy(api, draft, title, status):
    response = api.post(f"/api/v1/proposals/{draft.pk}/duplicate/", {"title": title}, format="json")
    assert response.status_code == status, response.json()
    assert Proposal.objects.count() == 1


def test_plan_limit_is_402(api, customer, settings):
    settings.FREE_PLAN_MONTHLY_SENDS = 0
    proposal = make_proposal(client=customer)

    response = api.post(f"/api/v1/proposals/{proposal.pk}/send/", format="json")

    assert response.status_code == 402
    assert response.json()["code"] == "plan_limit_reached"


def test_delete_only_a_draft(api, draft, customer):
    sent = make_proposal(client=customer)
    api.post(f"/api/v1/proposals/{sent.pk}/send/", format="json")

    assert api.delete(f"/api/v1/proposals/{sent.pk}/").status_code == 409
    assert api.delete(f"/api/v1/proposals/{draft.pk}/").status_code == 204
    assert not Proposal.objects.filter(pk=draft.pk).exists()
    assert Proposal.objects.filter(pk=sent.pk).exists()


def test_session_authentication_acts_for_the_users_business(owner_client, draft):
    response = owner_client.get(f"/api/v1/proposals/{draft.pk}/")

    assert response.status_code == 200
    # Writes through a session need the CSRF token like any form.
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(draft.created_by or _owner_of(draft))
    refused = strict.patch(
        f"/api/v1/proposals/{draft.pk}/", {"title": "x"}, content_type="application/json"
    )
    assert refused.status_code == 403
    assert refused["Content-Type"] == "application/problem+json"


def _owner_of(proposal):
    from accounts.models import Membership

    return Membership.objects.filter(business=proposal.business).first().user


def test_amounts_are_decimal_strings_never_floats(api, customer):
    response = api.post(
        "/api/v1/proposals/",
        _body(customer, sections=[{"items": [{"name": "x", "unit_price": 0.1, "quantity": 3}]}]),
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["totals"]["total"] == "0.30"
    assert Decimal(response.json()["sections"][0]["items"][0]["unit_price"]) == Decimal("0.1")


@pytest.mark.parametrize("value", [0, 1, "true", "yes", None])
@pytest.mark.parametrize("path", ["/api/v1/proposals/", "/api/v1/templates/"])
def test_a_line_items_flags_are_json_booleans_or_refused(api, customer, path, value):
    line = {"name": "Survey", "unit_price": "99.99", "optional": value}
    body = _body(customer, sections=[{"title": "Plan", "items": [line]}])
    if path.endswith("templates/"):
        body = {"name": "Standard", "sections": body["sections"]}
    answer = api.post(path, body, format="json")
    assert answer.status_code == 400, answer.content
    assert not Proposal.objects.filter(business=customer.business).exists()


def test_a_line_items_catalog_source_is_kept_and_a_malformed_one_is_refused(api, customer):
    source = "wix-stores:0d2fccad-2f60-5375-b626-2f4c9afdc8cd/variant-1"
    line = {"name": "Album", "unit_price": "120", "source": source}
    created = api.post(
        "/api/v1/proposals/",
        _body(
            customer, sections=[{"title": "", "items": [line, {"name": "Hour", "unit_price": "5"}]}]
        ),
        format="json",
    )
    assert created.status_code == 201, created.json()
    items = api.get(f"/api/v1/proposals/{created.json()['id']}/").json()["sections"][0]["items"]
    assert [i["source"] for i in items] == [source, ""]

    before = Proposal.objects.count()
    for bad in ("shopify:123", "wix-stores:", "wix-stores:a/b/c", 42):
        refused = api.post(
            "/api/v1/proposals/",
            _body(customer, sections=[{"title": "", "items": [{**line, "source": bad}]}]),
            format="json",
        )
        assert refused.status_code == 400, bad
        assert "source" in str(refused.json()), bad
    assert Proposal.objects.count() == before
