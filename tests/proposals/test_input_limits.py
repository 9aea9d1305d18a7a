"""One limit per input, read by every door: the dashboard and the API take what the rule takes
and refuse one more with the same message (issue 14 pt 4)."""

from html import unescape

import pytest
from django.urls import reverse

from proposals import rules, selectors
from proposals.models import Proposal
from tests.api.conftest import _fresh_throttle_counters, api, api_key, customer
from tests.proposals.factories import ClientFactory, make_proposal, make_sent_proposal

__all__ = ["_fresh_throttle_counters", "api", "api_key", "customer"]

pytestmark = pytest.mark.django_db


def page_of(response) -> str:
    return unescape(response.content.decode())


def editor_post(client_pk: int, *section_sizes: int, description: str = "") -> dict:
    """The editor's POST for sections of ``section_sizes`` lines each."""
    data = {"title": "Garden", "client": str(client_pk), "currency": "EUR", "valid_until": ""}
    data.update(intro="", terms="", **{"s-count": str(len(section_sizes))})
    for s, size in enumerate(section_sizes):
        data[f"s-{s}-title"] = f"Part {s}"
        data[f"s-{s}-i-count"] = str(size)
        for i in range(size):
            data[f"s-{s}-i-{i}-name"] = f"Line {i}"
            data[f"s-{s}-i-{i}-unit_price"] = "1"
            data[f"s-{s}-i-{i}-description"] = description
    return data


def api_body(client_pk: int, *section_sizes: int, description: str = "") -> dict:
    return {
        "client": client_pk,
        "title": "Garden",
        "sections": [
            {"items": [{"name": "a", "unit_price": "1", "description": description}] * size}
            for size in section_sizes
        ],
    }


def line_count(proposal: Proposal) -> int:
    return sum(len(s["items"]) for s in selectors.working_copy_sections(proposal))


def test_the_editor_saves_a_section_of_more_than_200_lines(owner_client, business):
    # The editor stopped at 200 rows a section while a proposal may hold 300 lines.
    ada = ClientFactory(business=business)
    response = owner_client.post(reverse("dashboard:proposal_create"), editor_post(ada.pk, 250))
    assert response.status_code == 302, page_of(response)[:2000]
    assert line_count(Proposal.objects.get()) == 250


@pytest.mark.parametrize(
    "sizes, message",
    [((rules.MAX_ITEMS + 1,), rules.TOO_MANY_ITEMS), ((1,) * 51, rules.TOO_MANY_SECTIONS)],
)
def test_the_editor_and_the_api_refuse_one_line_or_section_too_many_alike(
    owner_client, api, business, sizes, message
):
    ada = ClientFactory(business=business)
    page = owner_client.post(reverse("dashboard:proposal_create"), editor_post(ada.pk, *sizes))
    assert page.status_code == 400
    assert message in page_of(page)
    problem = api.post("/api/v1/proposals/", api_body(ada.pk, *sizes), format="json")
    assert problem.status_code == 400
    assert message in str(problem.json()["errors"])
    assert not Proposal.objects.exists()


def test_the_lines_of_all_sections_together_are_refused_alike_beyond_the_limit(
    owner_client, api, business
):
    ada = ClientFactory(business=business)
    sizes = (200, rules.MAX_ITEMS - 200 + 1)
    page = owner_client.post(reverse("dashboard:proposal_create"), editor_post(ada.pk, *sizes))
    assert page.status_code == 400
    assert rules.TOO_MANY_ITEMS in page_of(page)
    problem = api.post("/api/v1/proposals/", api_body(ada.pk, *sizes), format="json")
    assert problem.status_code == 422
    assert rules.TOO_MANY_ITEMS in str(problem.json())
    assert not Proposal.objects.exists()


def test_a_description_takes_the_full_limit_at_both_doors(owner_client, api, business):
    # The editor refused descriptions over 2,000 characters that the API took up to 20,000.
    ada = ClientFactory(business=business)
    longest = "d" * rules.MAX_TEXT
    page = owner_client.post(
        reverse("dashboard:proposal_create"), editor_post(ada.pk, 1, description=longest)
    )
    assert page.status_code == 302, page_of(page)[:2000]
    created = api.post(
        "/api/v1/proposals/", api_body(ada.pk, 1, description=longest), format="json"
    )
    assert created.status_code == 201, created.json()
    for proposal in Proposal.objects.all():
        assert selectors.working_copy_sections(proposal)[0]["items"][0]["description"] == longest


def test_one_character_more_is_refused_with_the_same_message(owner_client, api, business):
    ada = ClientFactory(business=business)
    too_long = "d" * (rules.MAX_TEXT + 1)
    page = owner_client.post(
        reverse("dashboard:proposal_create"), editor_post(ada.pk, 1, description=too_long)
    )
    assert page.status_code == 400
    assert rules.too_long(rules.MAX_TEXT) in page_of(page)
    problem = api.post(
        "/api/v1/proposals/", api_body(ada.pk, 1, description=too_long), format="json"
    )
    assert problem.status_code == 400
    assert problem.json()["errors"]["sections[0].items[0].description"] == [
        rules.too_long(rules.MAX_TEXT)
    ]
    assert not Proposal.objects.exists()


def test_the_send_message_takes_the_full_limit_at_both_doors(owner_client, api, business):
    # The dashboard refused messages over 2,000 characters that the API took up to 5,000.
    url = lambda p: reverse("dashboard:proposal_send", args=[p.pk])  # noqa: E731
    by_page, by_api = make_proposal(business=business), make_proposal(business=business)
    longest = "m" * rules.MAX_MESSAGE
    owner_client.post(url(by_page), {"message": longest, "revision": by_page.revision})
    sent = api.post(f"/api/v1/proposals/{by_api.pk}/send/", {"message": longest}, format="json")
    assert sent.status_code == 200, sent.json()
    for proposal in (by_page, by_api):
        proposal.refresh_from_db()
        assert proposal.current_version.message == longest

    draft = make_proposal(business=business)
    page = owner_client.post(url(draft), {"message": longest + "m"}, follow=True)
    assert rules.too_long(rules.MAX_MESSAGE) in page_of(page)
    problem = api.post(f"/api/v1/proposals/{draft.pk}/send/", {"message": longest + "m"})
    assert problem.json()["errors"]["message"] == [rules.too_long(rules.MAX_MESSAGE)]
    draft.refresh_from_db()
    assert draft.current_version is None


def test_the_client_may_give_a_decline_reason_up_to_the_limit(client):
    proposal, version = make_sent_proposal()
    url = reverse("public:decline", args=[version.token])
    too_long = "r" * (rules.MAX_MESSAGE + 1)
    page = client.post(url, {"reason": too_long})
    assert page.status_code == 400
    assert rules.too_long(rules.MAX_MESSAGE) in page_of(page)
    client.post(url, {"reason": too_long[:-1]})
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.DECLINED
    assert proposal.decline_reason == too_long[:-1]
