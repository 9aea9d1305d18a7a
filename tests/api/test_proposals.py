from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from proposals.models import Activity, Proposal
from tests.proposals.factories import ClientFactory, item, make_proposal, sections

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


def test_filters_and_search(api, business, customer):
    other_client = ClientFactory(business=business, name="Zed Quux")
    first = make_proposal(client=customer, title="Alpha roof")
    second = make_proposal(client=other_client, title="Beta wall")
    api.post(f"/api/v1/proposals/{second.pk}/send/", format="json")

    def ids(query):
        response = api.get(f"/api/v1/proposals/?{query}")
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    assert ids("status=sent") == {second.pk}
    assert ids(f"client={customer.pk}") == {first.pk}
    assert ids("search=alpha") == {first.pk}
    assert ids("search=quux") == {second.pk}
    assert ids(f"search=P-{second.number:04d}") == {second.pk}
    assert ids("created_after=2000-01-01T00:00:00Z") == {first.pk, second.pk}
    assert ids("created_before=2000-01-01T00:00:00Z") == set()
    assert ids("updated_after=2100-01-01T00:00:00Z") == set()

    bad = api.get("/api/v1/proposals/?status=bogus&created_after=yesterday")
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"status", "created_after"}


def test_cursor_pagination_walks_every_row_once(api, customer):
    created = {make_proposal(client=customer).pk for _ in range(7)}
    seen = []
    url = "/api/v1/proposals/?limit=3"
    while url:
        page = api.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert sorted(seen) == sorted(created)
    assert api.get("/api/v1/proposals/?cursor=garbage").status_code == 404


@pytest.mark.parametrize("position", ["abc", "9" * 40, "2026-13-45"])
def test_a_hand_made_cursor_never_crashes(api, draft, position):
    import base64

    cursor = base64.b64encode(f"p={position}".encode()).decode()
    for url in ("/api/v1/proposals/", f"/api/v1/proposals/{draft.pk}/versions/"):
        response = api.get(url, {"cursor": cursor})
        # An empty page or "invalid cursor"; never a crash.
        assert response.status_code in (200, 404), (url, response.content)
        if response.status_code == 404:
            assert response["Content-Type"] == "application/problem+json"


LISTS = [
    "/api/v1/proposals/",
    "/api/v1/clients/",
    "/api/v1/templates/",
    "/api/v1/deliveries/",
    "/api/v1/proposals/{pk}/activity/",
    "/api/v1/proposals/{pk}/versions/",
    "/api/v1/proposals/{pk}/deliveries/",
]


def _make_rows(api, customer, business, count):
    """``count`` proposals, clients, templates and deliveries; and one proposal sent ``count``
    times, so that its own versions, activity and deliveries grow with ``count`` too."""
    from proposals import services

    proposals = [make_proposal(client=ClientFactory(business=business)) for _ in range(count)]
    for n, proposal in enumerate(proposals):
        services.template_create(business=business, acting_user=None, name=f"T{n}")
        services.proposal_send(proposal=proposal, acting_user=None)
    first = proposals[0]
    for n in range(count):
        services.proposal_update(
            proposal=first,
            acting_user=None,
            title=f"v{n}",
            client=first.client,
            currency="USD",
            valid_until=None,
            intro="",
            terms="",
            sections=sections(item()),
        )
        services.proposal_send(proposal=first, acting_user=None)
    return first


@pytest.mark.parametrize("url", LISTS)
def test_list_query_count_does_not_grow_with_rows(
    api, business, customer, url, settings, django_assert_num_queries
):
    settings.FREE_PLAN_MONTHLY_SENDS = 1000

    def fetch(rows: int):
        Proposal.objects.all().delete()
        proposal = _make_rows(api, customer, business, rows)
        target = url.format(pk=proposal.pk) + "?limit=100"
        api.get(target)  # warm-up: the key's last-used time is written at most once a minute
        return target

    target = fetch(5)
    with CaptureQueriesContext(connection) as five:
        assert len(api.get(target).json()["results"]) >= 1
    queries_for_five = len(five)
    target = fetch(50)
    with django_assert_num_queries(queries_for_five):
        assert api.get(target).status_code == 200


def test_list_query_count_is_small(api, customer, key_cached, django_assert_num_queries):
    for _ in range(5):
        make_proposal(client=customer)
    api.get("/api/v1/proposals/")
    # the page of proposals (client and version joined); the key was checked just now
    with django_assert_num_queries(1):
        assert api.get("/api/v1/proposals/").status_code == 200


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
