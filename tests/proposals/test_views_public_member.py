"""The client's page as the business sees it (read-only), answer addresses opened with GET,
the accepted copy, and the old version's page pointing to the new one (issue 13 pts 4, 5, 7, 9).
"""

import pytest
from django.test import Client as DjangoClient
from django.urls import reverse

from proposals import services
from proposals.models import Acceptance, Client, Proposal, ProposalView
from tests.accounts.factories import MembershipFactory
from tests.proposals.factories import item, make_sent_proposal, sections
from tests.proposals.test_views_public import _fresh_rate_limits, html, optional_key, page_url

__all__ = ["_fresh_rate_limits"]  # the autouse fixture, used here too

pytestmark = pytest.mark.django_db


ACCEPT = {"signed_name": "Owner Himself", "agreed": "on"}


# --- pt 4: a member of the business sees the page read-only ----------------------------------


def test_member_sees_the_open_page_read_only_with_a_banner(owner_client, business):
    proposal, version = make_sent_proposal(business=business)
    response = owner_client.get(page_url(version))
    assert response.status_code == 200
    page = html(response)
    assert "You are signed in as a member of" in page
    assert "only your client can accept or decline it" in page
    assert reverse("dashboard:proposal_detail", args=[proposal.pk]) in page
    # No answer forms: neither the accept section nor the decline form is on the page.
    assert "Accept proposal" not in page and "Decline proposal" not in page
    assert reverse("public:accept", args=[version.token]) not in page
    assert reverse("public:decline", args=[version.token]) not in page
    assert not ProposalView.objects.exists()


def test_member_cannot_accept_or_decline(owner_client, business):
    proposal, version = make_sent_proposal(business=business)
    response = owner_client.post(reverse("public:accept", args=[version.token]), ACCEPT)
    assert response.status_code == 403
    page = html(response)
    assert "nothing was recorded" in page and "Accept proposal" not in page
    response = owner_client.post(reverse("public:decline", args=[version.token]), {"reason": "x"})
    assert response.status_code == 403
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.SENT
    assert not Acceptance.objects.exists()
    assert not proposal.deliveries.exclude(kind="proposal").exists()


def test_member_of_the_business_not_chosen_in_the_dashboard_is_still_refused(
    client, business, other_business
):
    # The user works for two businesses and is looking at the other one in the dashboard.
    user = MembershipFactory(business=other_business).user
    MembershipFactory(business=business, user=user)
    client.force_login(user)
    session = client.session
    session["business_id"] = other_business.pk
    session.save()
    _, version = make_sent_proposal(business=business)
    response = client.get(page_url(version))
    assert response.status_code == 200
    assert "You are signed in as a member of" in html(response)
    assert client.post(reverse("public:accept", args=[version.token]), ACCEPT).status_code == 403
    assert not Acceptance.objects.exists()


def test_member_update_total_stays_read_only(owner_client, business):
    _, version = make_sent_proposal(business=business)
    response = owner_client.get(
        page_url(version), {"update_total": "1", "item": optional_key(version)}
    )
    assert response.status_code == 200
    page = html(response)
    assert "2,586.00" in page  # 1200 + 10 × 95.50 × 1.2 + 240
    assert 'method="get"' in page and "Accept proposal" not in page


def test_anyone_else_still_answers(client, business):
    # Signed out: the client's page as before.
    _, version = make_sent_proposal(business=business)
    page = html(client.get(page_url(version)))
    assert "Accept proposal" in page and "You are signed in as a member" not in page
    response = client.post(reverse("public:accept", args=[version.token]), ACCEPT)
    assert response.status_code == 302
    assert Acceptance.objects.count() == 1


def test_member_sees_answered_page_with_the_banner(owner_client, business):
    _, version = make_sent_proposal(business=business)
    # The client answers in their own browser (``owner_client`` is the test's one client).
    DjangoClient().post(reverse("public:accept", args=[version.token]), ACCEPT)
    response = owner_client.get(page_url(version))
    assert response.status_code == 200
    page = html(response)
    assert "Accepted" in page and "You are signed in as a member of" in page


# --- pt 5: GET on the answer addresses ------------------------------------------------------


@pytest.mark.parametrize("name", ["public:accept", "public:decline"])
def test_get_on_an_answer_address_redirects_to_the_page(client, name):
    _, version = make_sent_proposal()
    response = client.get(reverse(name, args=[version.token]))
    assert response.status_code == 302
    assert response["Location"] == page_url(version)
    assert response["X-Robots-Tag"].startswith("noindex")
    assert client.head(reverse(name, args=[version.token])).status_code == 302
    follow = client.get(reverse(name, args=[version.token]), follow=True)
    assert follow.status_code == 200 and "Accept proposal" in html(follow)


def test_refused_accept_page_names_its_own_address(client):
    _, version = make_sent_proposal()
    response = client.post(reverse("public:accept", args=[version.token]), {"signed_name": ""})
    assert response.status_code == 400
    # public.js puts this address in the bar, so a reload opens the page.
    assert f'data-page-url="{page_url(version)}"' in html(response)


def test_head_on_the_page_counts_no_view(client):
    _, version = make_sent_proposal()
    response = client.head(page_url(version))
    assert response.status_code == 200
    assert not ProposalView.objects.exists()


# --- pt 7: the accepted copy ----------------------------------------------------------------


def test_accepted_page_shows_what_was_accepted(client):
    _, version = make_sent_proposal(
        intro="<p>Our plan</p>",
        terms="<p>Pay in 30 days</p>",
        sections=sections(
            item("Design", "1", "1200.00"),
            item("Hosting", "1", "240.00", optional=True),
            item("Support", "1", "99.00", optional=True),
        ),
    )
    hosting = next(
        entry["key"]
        for entry in version.snapshot["sections"][0]["items"]
        if entry["name"] == "Hosting"
    )
    client.post(
        reverse("public:accept", args=[version.token]),
        {"signed_name": "Ada Lovelace", "agreed": "on", "item": hosting},
    )
    page = html(client.get(page_url(version)))
    acceptance = Acceptance.objects.get()
    assert "What you accepted" in page
    assert "Our plan" in page and "Pay in 30 days" in page
    assert "Design" in page and "Optional, chosen" in page and "Optional, not chosen" in page
    assert "1,440.00" in page  # 1200 + the chosen hosting; support not chosen
    assert acceptance.content_hash in page
    assert "Ada Lovelace" in page and acceptance.email in page


# --- pt 9: the old version's page links to the new one --------------------------------------


def test_old_version_page_links_to_the_new_version(client):
    proposal, old = make_sent_proposal()
    new = services.proposal_send(proposal=proposal, acting_user=None)
    response = client.get(page_url(old))
    assert response.status_code == 410
    page = html(response)
    assert "Open the latest version" in page and page_url(new) in page


def test_old_version_page_does_not_link_a_version_sent_to_someone_else(client):
    proposal, old = make_sent_proposal()
    Client.objects.filter(pk=proposal.client_id).update(email="someone.else@example.org")
    proposal.refresh_from_db()
    new = services.proposal_send(proposal=proposal, acting_user=None)
    page = html(client.get(page_url(old)))
    assert "newer version" in page and new.token not in page
