"""The API's lists: filters, search, cursor pages, and query counts that do not grow with rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from proposals.models import Proposal
from tests.proposals.factories import ClientFactory, item, make_proposal, sections

pytestmark = pytest.mark.django_db


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
