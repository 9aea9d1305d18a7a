"""What the API costs per request: queries and cache round trips, constant in rows; search."""

import os

import pytest
import redis.connection

from proposals import selectors
from tests.proposals.factories import ClientFactory, item, make_proposal
from tests.redis_needed import require_redis

pytestmark = pytest.mark.django_db


def _sections(count: int) -> list[dict]:
    return [
        {
            "title": f"S{n}",
            "items": [
                item(f"Item {n}", "2", "10.00", tax_rate="20"),
                item(f"Extra {n}", "1", "5.00", optional=True, selected=False),
            ],
        }
        for n in range(count)
    ]


def test_detail_reads_everything_once_whatever_its_size(
    api, customer, key_cached, django_assert_num_queries
):
    small = make_proposal(client=customer, sections=_sections(5))
    big = make_proposal(client=customer, sections=_sections(50))
    api.get(f"/api/v1/proposals/{small.pk}/")  # the key's last-used time is written once a minute

    # the proposal (with its client and version number), its sections joined to their items
    for proposal, count in ((small, 5), (big, 50)):
        with django_assert_num_queries(2):
            response = api.get(f"/api/v1/proposals/{proposal.pk}/")
        assert response.status_code == 200
        assert len(response.json()["sections"]) == count


def test_detail_totals_are_the_shared_money_code(api, customer):
    proposal = make_proposal(client=customer, sections=_sections(3))

    data = api.get(f"/api/v1/proposals/{proposal.pk}/").json()

    expected = selectors.proposal_totals(proposal=proposal)
    assert data["totals"]["total"] == str(expected.total)
    assert data["totals"]["tax"] == str(expected.tax)
    assert data["totals"]["total"] == "72.00"  # 3 × 2 × 10.00 + 20% tax; the extras not ticked


@pytest.mark.parametrize("query", ["search=nothing-matches", "status=draft&search=Client"])
def test_list_with_search_costs_the_same_for_5_and_50_rows(
    api, business, query, key_cached, django_assert_num_queries
):
    def make(count: int) -> None:
        for n in range(count):
            make_proposal(client=ClientFactory(business=business, name=f"Client {n}"))

    make(5)
    api.get("/api/v1/proposals/")
    # the matching clients, the page
    with django_assert_num_queries(2):
        assert api.get(f"/api/v1/proposals/?{query}").status_code == 200
    make(45)
    with django_assert_num_queries(2):
        assert api.get(f"/api/v1/proposals/?{query}").status_code == 200


def test_a_search_matching_many_clients_costs_the_same_for_5_and_50_rows(
    api, business, key_cached, monkeypatch, django_assert_num_queries
):
    # the rows' own clients are checked
    monkeypatch.setattr(selectors.lists, "SEARCH_CLIENT_IDS", 2)
    for count in (5, 45):
        for n in range(count):
            make_proposal(client=ClientFactory(business=business, name=f"Acme {n}"))
        api.get("/api/v1/proposals/?search=acme")
        # the first clients that match (more than SEARCH_CLIENT_IDS), the page
        with django_assert_num_queries(2):
            response = api.get("/api/v1/proposals/?search=acme")
        assert len(response.json()["results"]) == min(25, 5 if count == 5 else 50)


def _ids(api, search: str) -> set[int]:
    response = api.get("/api/v1/proposals/", {"search": search})
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


def test_search_finds_by_number_title_and_client_fields(api, business):
    ada = ClientFactory(business=business, name="Ada Lovelace", email="ada@engines.example")
    bob = ClientFactory(business=business, name="Bob", company="Analytical Works")
    roof = make_proposal(client=ada, title="New roof")
    wall = make_proposal(client=bob, title="Garden wall")

    assert _ids(api, "roof") == {roof.pk}
    assert _ids(api, "LOVELACE") == {roof.pk}
    assert _ids(api, "engines.exa") == {roof.pk}
    assert _ids(api, "analytical") == {wall.pk}
    assert _ids(api, f"P-{wall.number:04d}") == {wall.pk}
    assert _ids(api, str(wall.number)) == {wall.pk}
    assert _ids(api, "p-999999") == set()
    assert _ids(api, "nothing at all") == set()


def test_search_matching_many_clients_still_finds_every_match(api, business, monkeypatch):
    # the subquery form, beyond the list
    monkeypatch.setattr(selectors.lists, "SEARCH_CLIENT_IDS", 2)
    matched = {
        make_proposal(client=ClientFactory(business=business, name=f"Acme {n}")).pk
        for n in range(4)
    }
    make_proposal(client=ClientFactory(business=business, name="Other"), title="Shed")

    assert _ids(api, "acme") == matched


def test_search_never_matches_another_business_client(api, business, other):
    other_business, _ = other
    ClientFactory(business=other_business, name="Shared Name")
    mine = make_proposal(client=ClientFactory(business=business, name="Mine"), title="Deck")
    make_proposal(client=ClientFactory(business=other_business, name="Shared Name 2"))

    assert _ids(api, "shared name") == set()
    assert _ids(api, "deck") == {mine.pk}


def test_both_rate_limits_cost_one_redis_round_trip(api, draft, settings, monkeypatch):
    require_redis()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/13",
            "KEY_PREFIX": f"api-scale-{os.getpid()}",
        }
    }
    api.get(f"/api/v1/proposals/{draft.pk}/")
    sent = []
    real = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, *args, **kwargs):
        sent.append(command)
        return real(self, command, *args, **kwargs)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)

    assert api.get(f"/api/v1/proposals/{draft.pk}/").status_code == 200
    assert api.get("/api/v1/proposals/?search=x").status_code == 200

    assert len(sent) == 2  # one per request: per-IP and per-key together
