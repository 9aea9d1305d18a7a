"""The client's page /p/<token>: states, answers, privacy headers, rate limit."""

from datetime import date, timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse

from accounts.models import Business
from proposals import services
from proposals.models import Acceptance, Proposal, ProposalView
from tests.proposals.factories import (
    item,
    make_proposal,
    make_sent_proposal,
    sections,
    sent_valid_until,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def html(response) -> str:
    return response.content.decode()


def page_url(version) -> str:
    return reverse("public:proposal", args=[version.token])


def optional_key(version) -> str:
    return next(
        item["key"]
        for section in version.snapshot["sections"]
        for item in section["items"]
        if item["optional"]
    )


def assert_private(response, referrer_policy: str = "no-referrer") -> None:
    assert response["X-Robots-Tag"].startswith("noindex")
    assert response["Referrer-Policy"] == referrer_policy
    assert "no-store" in response["Cache-Control"]


def test_open_page_shows_the_sent_version_and_counts_a_view(client):
    proposal, version = make_sent_proposal(title="Roof repair")
    # Later edits of the working copy are not what the client sees.
    services.proposal_update(
        proposal=proposal, acting_user=None, title="Changed later", client=proposal.client,
        currency="USD", valid_until=None, intro="", terms="", sections=[],
    )  # fmt: skip
    response = client.get(page_url(version), HTTP_USER_AGENT="Firefox")
    assert response.status_code == 200
    page = html(response)
    assert "Roof repair" in page and "Changed later" not in page
    assert '<meta name="robots" content="noindex' in page
    assert "Accept proposal" in page and "Decline this proposal" in page
    # The page with the answer forms sends its URL to no other site, yet keeps the Origin
    # header on its own POSTs (with "no-referrer" browsers send `Origin: null` → CSRF 403).
    assert_private(response, referrer_policy="same-origin")
    view = ProposalView.objects.get()
    assert view.user_agent == "Firefox" and view.ip == "127.0.0.1"
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.VIEWED


def test_business_opening_its_own_link_is_not_a_view(owner_client, business):
    _, version = make_sent_proposal(business=business)
    assert owner_client.get(page_url(version)).status_code == 200
    assert not ProposalView.objects.exists()


def test_unknown_token_is_404_with_headers(client):
    response = client.get(reverse("public:proposal", args=["nope" * 10]))
    assert response.status_code == 404
    assert "can't find this proposal" in html(response)
    assert_private(response)
    response = client.post(reverse("public:accept", args=["nope"]), {"signed_name": "X"})
    assert response.status_code == 404


def test_update_total_without_javascript(client):
    _, version = make_sent_proposal()
    page = html(client.get(page_url(version)))
    assert "$2,346.00" in page
    page = html(client.get(page_url(version), {"update_total": "1", "item": optional_key(version)}))
    assert "$2,586.00" in page
    response = client.post(
        reverse("public:accept", args=[version.token]),
        {"update_total": "1", "item": optional_key(version), "signed_name": "Ada"},
    )
    assert response.status_code == 200
    assert "$2,586.00" in html(response)
    assert not Acceptance.objects.exists()


def test_accept_with_option_records_acceptance_and_shows_accepted_page(client):
    proposal, version = make_sent_proposal()
    response = client.post(
        reverse("public:accept", args=[version.token]),
        {"signed_name": "Ada Lovelace", "agreed": "on", "item": optional_key(version)},
        HTTP_USER_AGENT="Safari",
    )
    assert response.status_code == 302
    assert_private(response)
    acceptance = Acceptance.objects.get()
    assert acceptance.signed_name == "Ada Lovelace"
    assert acceptance.selected_item_keys == [optional_key(version)]
    assert str(acceptance.total) == "2586.0000" or acceptance.total == 2586
    assert acceptance.user_agent == "Safari"
    page = html(client.get(response["Location"]))
    assert "Accepted" in page and "Ada Lovelace" in page and "$2,586.00" in page
    # A second accept is refused with the answered page and records nothing more.
    response = client.post(
        reverse("public:accept", args=[version.token]), {"signed_name": "Ada", "agreed": "on"}
    )
    assert response.status_code == 409
    assert "Accepted" in html(response)
    assert Acceptance.objects.count() == 1


def test_accept_form_errors_are_next_to_fields(client):
    _, version = make_sent_proposal()
    response = client.post(reverse("public:accept", args=[version.token]), {"signed_name": ""})
    assert response.status_code == 400
    page = html(response)
    assert '<p class="field-error" id="id_signed_name-error">' in page
    assert '<p class="field-error" id="id_agreed-error">' in page
    assert 'aria-describedby="id_signed_name-help id_signed_name-error"' in page
    assert not Acceptance.objects.exists()


def test_accept_with_a_foreign_item_key_is_a_form_error(client):
    _, version = make_sent_proposal()
    response = client.post(
        reverse("public:accept", args=[version.token]),
        {"signed_name": "Ada", "agreed": "on", "item": "999999"},
    )
    assert response.status_code == 400
    assert "not part of this proposal" in html(response)


def test_decline_with_reason(client):
    proposal, version = make_sent_proposal()
    response = client.post(
        reverse("public:decline", args=[version.token]), {"reason": "Too expensive"}
    )
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.DECLINED
    assert proposal.decline_reason == "Too expensive"
    assert "You declined this proposal" in html(client.get(page_url(version)))


def test_expired_page_and_accept_refused(client):
    proposal, version = make_sent_proposal(valid_until=date.today() + timedelta(days=3))
    sent_valid_until(proposal, date.today() - timedelta(days=2))
    response = client.get(page_url(version))
    assert response.status_code == 410
    assert "has expired" in html(response)
    assert_private(response)
    response = client.post(
        reverse("public:accept", args=[version.token]), {"signed_name": "Ada", "agreed": "on"}
    )
    assert response.status_code == 409
    assert "has expired" in html(response)
    assert not Acceptance.objects.exists()


def test_withdrawn_page_and_accept_refused(client):
    proposal, version = make_sent_proposal()
    services.proposal_withdraw(proposal=proposal, acting_user=None)
    response = client.get(page_url(version))
    assert response.status_code == 410
    assert "was withdrawn" in html(response)
    response = client.post(reverse("public:decline", args=[version.token]), {"reason": ""})
    assert response.status_code == 409
    assert "was withdrawn" in html(response)


def test_old_version_token_shows_superseded_page(client):
    proposal, old = make_sent_proposal()
    new = services.proposal_send(proposal=proposal, acting_user=None)
    response = client.get(page_url(old))
    assert response.status_code == 410
    assert "newer version" in html(response)
    response = client.post(
        reverse("public:accept", args=[old.token]), {"signed_name": "Ada", "agreed": "on"}
    )
    assert response.status_code == 409
    assert not Acceptance.objects.exists()
    assert client.get(page_url(new)).status_code == 200


def test_uninstalled_business_page_is_unavailable(client):
    proposal, version = make_sent_proposal()
    Business.objects.filter(pk=proposal.business_id).update(status=Business.Status.UNINSTALLED)
    response = client.get(page_url(version))
    assert response.status_code == 410
    assert "not available" in html(response)


def test_answers_are_rate_limited_per_ip(client, settings):
    settings.PUBLIC_ANSWER_RATE_LIMIT = "3/hour"
    _, version = make_sent_proposal()
    url = reverse("public:accept", args=[version.token])
    for _ in range(3):
        assert client.post(url, {"signed_name": ""}, REMOTE_ADDR="198.51.100.7").status_code == 400
    response = client.post(url, {"signed_name": ""}, REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 429
    assert "Too many attempts" in html(response)
    assert_private(response)
    decline = reverse("public:decline", args=[version.token])
    assert client.post(decline, {}, REMOTE_ADDR="198.51.100.7").status_code == 429
    # Another address is not affected.
    assert client.post(url, {"signed_name": ""}, REMOTE_ADDR="198.51.100.8").status_code == 400


def test_forwarded_for_is_ignored_without_trusted_proxies(client, settings):
    settings.PUBLIC_ANSWER_RATE_LIMIT = "1/hour"
    _, version = make_sent_proposal()
    url = reverse("public:accept", args=[version.token])
    client.post(url, {}, REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="1.1.1.1")
    # A spoofed header does not buy a fresh allowance.
    response = client.post(url, {}, REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="2.2.2.2")
    assert response.status_code == 429


def test_trusted_proxy_count_uses_the_forwarded_address(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    _, version = make_sent_proposal()
    client.get(
        page_url(version), REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5"
    )
    assert ProposalView.objects.get().ip == "203.0.113.5"  # not the spoofable left part


def test_draft_has_no_public_page(client):
    proposal = make_proposal()
    assert not proposal.versions.exists()
    assert client.get(reverse("public:proposal", args=["x" * 43])).status_code == 404


def _sent_with_items(count: int):
    items = [item(f"Line {n}", "1", "10.00", optional=n % 2 == 1) for n in range(count)]
    return make_sent_proposal(sections=sections(*items))


@pytest.mark.parametrize("size", [5, 50])
def test_client_page_queries_do_not_grow_with_items(client, size, django_assert_num_queries):
    _, version = _sent_with_items(size)
    client.get(page_url(version))  # the first view moves sent → viewed (once)

    # the version with its proposal and business, then the view row alone (one INSERT, no
    # transaction: the proposal is already viewed); the snapshot is not read again
    with django_assert_num_queries(2) as captured:
        response = client.get(page_url(version))
    assert captured.captured_queries[1]["sql"].startswith('INSERT INTO "proposals_proposalview"')

    assert response.status_code == 200
    assert html(response).count("Line ") >= size
