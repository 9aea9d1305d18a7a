"""The pages around the product (issue 13 pt 12): the landing page at /, the favicon, HEAD on
pages, the sign-in page naming the product."""

import pytest
from django.urls import reverse

from tests.proposals.factories import make_sent_proposal

pytestmark = pytest.mark.django_db


def test_landing_page_points_to_the_dashboard_and_the_admin(client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Proposals for Wix" in page
    assert f'href="{reverse("dashboard:proposal_list")}"' in page
    assert f'href="{reverse("admin:index")}"' in page
    assert 'rel="icon"' in page
    assert client.head("/").status_code == 200
    assert client.post("/").status_code == 405


def test_landing_page_greets_a_signed_in_owner(owner_client):
    assert "Go to your proposals" in owner_client.get("/").content.decode()


def test_favicon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].endswith("favicon/favicon.svg")
    assert client.get(response["Location"]).status_code == 200


def test_login_page_names_the_product(client):
    page = client.get(reverse("accounts:login")).content.decode()
    assert "<title>Sign in · Proposals for Wix</title>" in page
    assert "Sign in to Proposals for Wix" in page


def test_head_answers_on_the_dashboard_pages(owner_client, business):
    proposal, version = make_sent_proposal(business=business)
    for url in (
        reverse("dashboard:proposal_list"),
        reverse("dashboard:proposal_detail", args=[proposal.pk]),
        reverse("dashboard:proposal_preview", args=[proposal.pk]),
        reverse("dashboard:client_list"),
        reverse("dashboard:template_list"),
        reverse("dashboard:settings"),
        reverse("dashboard:api_keys"),
    ):
        assert owner_client.head(url).status_code == 200, url
