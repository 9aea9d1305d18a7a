"""Tenant isolation over every endpoint, generated from the URL conf.

Business A's key on any of business B's objects answers 404 for every method the endpoint
has (never 403, never a change); A's lists never contain B's rows. A new endpoint with a path
parameter fails here until it says which of B's objects fill its parameters.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from proposals import services
from proposals.models import Activity, Client, Delivery, Proposal, ProposalTemplate
from tests.proposals.factories import ClientFactory, make_proposal

pytestmark = pytest.mark.django_db

# Endpoints that belong to nobody (documentation).
PUBLIC = {"api:schema", "api:docs"}


def api_routes() -> list[tuple[str, str, object]]:
    """(url name, route, view class) of every route under the ``api`` namespace."""
    routes = []

    def walk(patterns, prefix, namespace):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(
                    pattern.url_patterns,
                    prefix + str(pattern.pattern),
                    pattern.namespace or namespace,
                )
            elif isinstance(pattern, URLPattern) and namespace == "api":
                routes.append((f"api:{pattern.name}", prefix + str(pattern.pattern), pattern))

    walk(get_resolver().url_patterns, "/", None)
    return routes


ROUTES = [r for r in api_routes() if r[0] not in PUBLIC]


def _methods(pattern) -> list[str]:
    view = pattern.callback.view_class
    return [m for m in ("get", "post", "patch", "put", "delete") if hasattr(view, m)]


@pytest.fixture
def b_objects(other):
    business, _ = other
    client = ClientFactory(business=business)
    proposal = make_proposal(client=client)
    services.proposal_send(proposal=proposal, acting_user=None)
    template = services.template_create(business=business, acting_user=None, name="B's")
    return {
        "business": business,
        "client": client,
        "proposal": proposal,
        "template": template,
        "delivery": Delivery.objects.get(proposal=proposal),
    }


def _kwargs(name: str, objects: dict) -> dict:
    if name.startswith("api:proposal-version-detail"):
        return {"pk": objects["proposal"].pk, "number": 1}
    for prefix, key in (
        ("api:proposal-", "proposal"),
        ("api:client-", "client"),
        ("api:template-", "template"),
        ("api:delivery-", "delivery"),
    ):
        if name.startswith(prefix):
            return {"pk": objects[key].pk}
    raise AssertionError(f"test_isolation: say which of B's objects fill the route {name}")


def _url(route: str, kwargs: dict) -> str:
    for key, value in kwargs.items():
        route = route.replace(f"<api_id:{key}>", str(value))
    assert "<" not in route, route
    return route


def _snapshot(business) -> tuple:
    return (
        list(Proposal.objects.filter(business=business).values_list("pk", "revision", "status")),
        Client.objects.filter(business=business).count(),
        ProposalTemplate.objects.filter(business=business).count(),
        Activity.objects.filter(business=business).count(),
    )


def test_the_url_conf_has_the_endpoints_this_test_knows():
    names = {name for name, _, _ in ROUTES}
    assert {"api:proposal-list", "api:proposal-detail", "api:client-detail"} <= names


@pytest.mark.parametrize(
    ("name", "route", "pattern"),
    [r for r in ROUTES if "<" in r[1]],
    ids=[r[0] for r in ROUTES if "<" in r[1]],
)
def test_a_foreign_object_is_404_for_every_method(api, b_objects, name, route, pattern):
    url = _url(route, _kwargs(name, b_objects))
    before = _snapshot(b_objects["business"])

    for method in _methods(pattern):
        response = getattr(api, method)(url, {}, format="json", HTTP_IDEMPOTENCY_KEY=f"{method}")
        assert response.status_code == 404, (method, url, response.content)
        assert response["Content-Type"] == "application/problem+json"

    assert _snapshot(b_objects["business"]) == before


@pytest.mark.parametrize(
    ("name", "route", "pattern"),
    [r for r in ROUTES if "<" not in r[1] and "get" in _methods(r[2])],
    ids=[r[0] for r in ROUTES if "<" not in r[1] and "get" in _methods(r[2])],
)
def test_lists_never_include_another_business_rows(api, business, b_objects, name, route, pattern):
    own = make_proposal(client=ClientFactory(business=business))
    services.proposal_send(proposal=own, acting_user=None)
    services.template_create(business=business, acting_user=None, name="A's")

    response = api.get(route)

    assert response.status_code == 200
    data = response.json()
    rows = data["results"] if "results" in data else [data]
    foreign_ids = {
        b_objects[key].pk for key in ("business", "client", "proposal", "template", "delivery")
    }
    assert rows, "the list should show business A's own rows"
    for row in rows:
        assert row["id"] not in foreign_ids or _is_own(row, name, business), (name, row)


def _is_own(row: dict, name: str, business) -> bool:
    """Ids are per table: a row of A may share a number with an object of B in another table."""
    tables: dict[str, type[Proposal | Client | ProposalTemplate | Delivery]] = {
        "api:proposal-list": Proposal,
        "api:client-list": Client,
        "api:template-list": ProposalTemplate,
        "api:delivery-list": Delivery,
    }
    model = tables.get(name)
    if model is None:
        return row["id"] == business.pk
    return model.objects.filter(pk=row["id"], business=business).exists()


def test_a_foreign_client_or_template_in_a_body_is_refused(api, customer, draft, b_objects):
    foreign_client = {"client": b_objects["client"].pk, "title": "x"}
    foreign_template = {"client": customer.pk, "template": b_objects["template"].pk}

    # Well-formed ids that name nothing of this business: a rule refuses them (422).
    assert api.post("/api/v1/proposals/", foreign_client, format="json").status_code == 422
    assert api.post("/api/v1/proposals/", foreign_template, format="json").status_code == 422
    assert (
        api.patch(f"/api/v1/proposals/{draft.pk}/", foreign_client, format="json").status_code
        == 422
    )
    assert api.get(f"/api/v1/proposals/?client={b_objects['client'].pk}").json()["results"] == []
    assert (
        api.get(f"/api/v1/deliveries/?proposal={b_objects['proposal'].pk}").json()["results"] == []
    )
