"""Tenant isolation on every dashboard page: another business's ids answer 404."""

import pytest
from django.urls import reverse

from proposals import services
from proposals.models import Proposal
from tests.proposals.factories import ClientFactory, make_sent_proposal

pytestmark = pytest.mark.django_db


@pytest.fixture
def foreign(other_business):
    """Everything business B has: a sent proposal, a client, a template, a delivery."""
    proposal, version = make_sent_proposal(business=other_business)
    template = services.template_create(
        business=other_business, acting_user=None, name="Theirs", sections=[]
    )
    return {
        "proposal": proposal,
        "version": version,
        "client": proposal.client,
        "template": template,
        "delivery": proposal.deliveries.get(),
    }


def foreign_urls(foreign) -> list[tuple[str, str]]:
    p = foreign["proposal"].pk
    return [
        ("get", reverse("dashboard:proposal_detail", args=[p])),
        ("get", reverse("dashboard:proposal_edit", args=[p])),
        ("post", reverse("dashboard:proposal_edit", args=[p])),
        ("get", reverse("dashboard:proposal_preview", args=[p])),
        ("post", reverse("dashboard:proposal_send", args=[p])),
        ("post", reverse("dashboard:proposal_withdraw", args=[p])),
        ("post", reverse("dashboard:proposal_duplicate", args=[p])),
        ("post", reverse("dashboard:delivery_retry", args=[p, foreign["delivery"].pk])),
        ("get", reverse("dashboard:client_edit", args=[foreign["client"].pk])),
        ("post", reverse("dashboard:client_edit", args=[foreign["client"].pk])),
        ("get", reverse("dashboard:template_edit", args=[foreign["template"].pk])),
        ("post", reverse("dashboard:template_edit", args=[foreign["template"].pk])),
        ("get", reverse("dashboard:template_delete", args=[foreign["template"].pk])),
        ("post", reverse("dashboard:template_delete", args=[foreign["template"].pk])),
        ("get", reverse("dashboard:proposal_create") + f"?template={foreign['template'].pk}"),
        ("get", reverse("public:proposal", args=[foreign["version"].token])),
        ("post", reverse("public:accept", args=[foreign["version"].token])),
        ("post", reverse("public:decline", args=[foreign["version"].token])),
    ]


def test_every_foreign_object_answers_404(owner_client, foreign):
    for method, url in foreign_urls(foreign):
        if method == "get":
            response = owner_client.get(url)
        else:
            response = owner_client.post(url, {"name": "x", "email": "a@b.c"})
        assert response.status_code == 404, (method, url, response.status_code)
    proposal = foreign["proposal"]
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.SENT
    assert Proposal.objects.filter(business=proposal.business_id).count() == 1
    assert not proposal.views.exists()


def test_a_foreign_token_says_how_to_open_it_as_a_client(owner_client, foreign):
    response = owner_client.get(reverse("public:proposal", args=[foreign["version"].token]))
    assert response.status_code == 404
    assert b"signed in to the Proposals dashboard of another business" in response.content
    assert foreign["proposal"].title.encode() not in response.content


def test_the_same_token_opens_for_an_anonymous_client(client, foreign):
    response = client.get(reverse("public:proposal", args=[foreign["version"].token]))
    assert response.status_code == 200


def test_delivery_of_another_proposal_answers_404(owner_client, business, foreign):
    mine, _ = make_sent_proposal(business=business)
    url = reverse("dashboard:delivery_retry", args=[mine.pk, foreign["delivery"].pk])
    assert owner_client.post(url).status_code == 404


def test_lists_show_only_own_rows(owner_client, business, foreign):
    ClientFactory(business=business, name="Mine Only")
    pages = [
        owner_client.get(reverse("dashboard:proposal_list")).content.decode(),
        owner_client.get(reverse("dashboard:client_list")).content.decode(),
        owner_client.get(reverse("dashboard:template_list")).content.decode(),
        owner_client.get(reverse("dashboard:proposal_create")).content.decode(),
    ]
    for page in pages:
        assert foreign["client"].name not in page
        assert "Theirs" not in page
    # A foreign client id is not a filter value: it is dropped, and only own rows show.
    response = owner_client.get(
        reverse("dashboard:proposal_list"), {"client": foreign["client"].pk, "status": "sent"}
    )
    assert response.status_code == 200
    assert foreign["proposal"].title not in response.content.decode() or all(
        p.business_id == business.pk for p in response.context["page"].object_list
    )
