"""Dashboard: filtering the list by client, and the client box's suggestions."""

import pytest
from django.db import connection
from django.test import Client as DjangoClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.accounts.factories import UserFactory
from tests.proposals.factories import (
    ClientFactory,
    make_proposal,
)
from tests.proposals.pages import html, tag_with_id

pytestmark = pytest.mark.django_db


# --- the client filter ------------------------------------------------------------------------
def test_filter_by_the_client_picked_from_the_suggestions(owner_client, business):
    ada = ClientFactory(business=business, name="Ada Lovelace")
    adam = ClientFactory(business=business, name="Adam Smith")
    make_proposal(business=business, client=ada, title="Engine plans")
    make_proposal(business=business, client=adam, title="Wealth of nations")
    url = reverse("dashboard:proposal_list")
    page = html(owner_client.get(url, {"client": adam.pk, "client_name": "Adam Smith"}))
    assert "Wealth of nations" in page and "Engine plans" not in page
    assert f'name="client" value="{adam.pk}"' in page
    assert 'value="Adam Smith"' in page


def test_typed_text_that_no_longer_names_the_picked_client_wins(owner_client, business):
    ada = ClientFactory(business=business, name="Ada Lovelace")
    grace = ClientFactory(business=business, name="Grace Hopper")
    make_proposal(business=business, client=ada, title="Engine plans")
    make_proposal(business=business, client=grace, title="Compiler manual")
    # Without JavaScript the hidden id of the last pick stays while the user types a new name.
    page = html(
        owner_client.get(
            reverse("dashboard:proposal_list"), {"client": ada.pk, "client_name": "grace"}
        )
    )
    assert "Compiler manual" in page and "Engine plans" not in page
    assert f'name="client" value="{grace.pk}"' in page


def test_typed_name_without_javascript_filters_when_it_names_one_client(owner_client, business):
    ada = ClientFactory(business=business, name="Ada Lovelace", email="ada@engines.example")
    grace = ClientFactory(business=business, name="Grace Hopper")
    make_proposal(business=business, client=ada, title="Engine plans")
    make_proposal(business=business, client=grace, title="Compiler manual")
    url = reverse("dashboard:proposal_list")
    for typed in ("ada", "ADA LOVELACE", "ada@engines"):
        page = html(owner_client.get(url, {"client_name": typed}))
        assert "Engine plans" in page and "Compiler manual" not in page, typed


def test_typed_name_matching_several_clients_offers_a_choice(owner_client, business):
    ada = ClientFactory(business=business, name="Ada Lovelace")
    ClientFactory(business=business, name="Adam Smith")
    make_proposal(business=business, client=ada, title="Engine plans")
    url = reverse("dashboard:proposal_list")
    page = html(owner_client.get(url, {"client_name": "ad", "status": "draft"}))
    assert "Which client?" in page
    assert f'href="?status=draft&amp;client={ada.pk}"' in page
    assert "Adam Smith" in page
    assert "Engine plans" in page  # not filtered by client until one is picked


def test_typed_name_matching_many_clients_offers_a_bounded_choice(owner_client, business):
    for n in range(30):
        ClientFactory(business=business, name=f"Smith {n:02d}")
    page = html(owner_client.get(reverse("dashboard:proposal_list"), {"client_name": "smith"}))
    assert page.count('<li><a href="?client=') == 20
    assert "More than 20 clients start with" in page and "type more of the name" in page


def test_typed_name_matching_no_client_says_so(owner_client, business):
    ada = ClientFactory(business=business, name="Ada Lovelace")
    make_proposal(business=business, client=ada, title="Engine plans")
    page = html(owner_client.get(reverse("dashboard:proposal_list"), {"client_name": "zed"}))
    assert "No client's name or email starts with “zed”" in page
    assert 'aria-invalid="true"' in tag_with_id(page, "id_client_name")
    assert "Engine plans" not in page and "No proposals match these filters" in page


def test_a_foreign_client_id_filters_nothing_and_shows_nothing_foreign(
    owner_client, business, other_business
):
    foreign = ClientFactory(business=other_business, name="Foreign Person")
    make_proposal(business=other_business, client=foreign, title="Not yours")
    make_proposal(business=business, title="Yours")
    page = html(owner_client.get(reverse("dashboard:proposal_list"), {"client": foreign.pk}))
    assert "Yours" in page and "Not yours" not in page and "Foreign Person" not in page


# --- client search (the suggestions) ----------------------------------------------------------
def test_client_search_suggests_by_name_or_email_prefix(owner_client, business, other_business):
    ClientFactory(business=business, name="Ada Lovelace", email="ada@example.org", company="")
    ClientFactory(business=business, name="Charles Babbage", email="adastra@example.org")
    ClientFactory(business=business, name="Grace Hopper", email="grace@example.org")
    ClientFactory(business=other_business, name="Adalbert Foreign")
    url = reverse("dashboard:client_search")
    response = owner_client.get(url, {"q": " ADA"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    results = response.json()["results"]
    assert [r["name"] for r in results] == ["Ada Lovelace", "Charles Babbage"]
    assert set(results[0]) == {"id", "name", "email", "company"}
    assert (
        owner_client.get(url, {"q": "lovelace"}).json()["results"] == []
    )  # a prefix, not a substring
    assert owner_client.get(url, {"q": ""}).json()["results"] == []
    assert owner_client.get(url, {"q": "100%_"}).json()["results"] == []


def test_client_search_answers_at_most_20(owner_client, business):
    for n in range(25):
        ClientFactory(business=business, name=f"Smith {n:02d}")
    results = owner_client.get(reverse("dashboard:client_search"), {"q": "smi"}).json()["results"]
    assert [r["name"] for r in results] == [f"Smith {n:02d}" for n in range(20)]


def test_client_search_query_count_is_fixed(owner_client, business, django_assert_num_queries):
    url = reverse("dashboard:client_search")
    for n in range(5):
        ClientFactory(business=business, name=f"Smith {n:02d}", email=f"smith{n}@example.org")
    owner_client.get(url, {"q": "s"})
    with CaptureQueriesContext(connection) as five:
        owner_client.get(url, {"q": "s"})
    for n in range(5, 50):
        ClientFactory(business=business, name=f"Smith {n:02d}", email=f"smith{n}@example.org")
    with django_assert_num_queries(len(five.captured_queries)):
        assert len(owner_client.get(url, {"q": "s"}).json()["results"]) == 20


def test_client_search_refuses_bad_input_and_strangers(owner_client):
    url = reverse("dashboard:client_search")
    response = owner_client.get(url, {"q": "x" * 201})
    assert response.status_code == 400 and "200 characters" in response.json()["error"]
    assert owner_client.post(url, {"q": "a"}).status_code == 405
    anonymous = DjangoClient()
    assert anonymous.get(url, {"q": "a"}).status_code == 302
    anonymous.force_login(UserFactory())  # signed in, but no business
    assert anonymous.get(url, {"q": "a"}).status_code == 403
