"""Dashboard: the proposal list (access, filters, keyset pages) and what its pages cost."""

import base64
import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Business
from proposals.models import Proposal
from tests.accounts.factories import UserFactory
from tests.proposals.factories import (
    ClientFactory,
    make_proposal,
    make_sent_proposal,
)
from tests.proposals.pages import html, is_pipeline_read, tag_with_id

pytestmark = pytest.mark.django_db


# --- access ---------------------------------------------------------------------------------
def test_dashboard_requires_login(client):
    response = client.get(reverse("dashboard:proposal_list"))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_user_without_business_gets_a_clear_page(client):
    client.force_login(UserFactory())
    response = client.get(reverse("dashboard:proposal_list"))
    assert response.status_code == 403
    assert "not part of a business" in html(response)


# --- list -----------------------------------------------------------------------------------
def test_empty_list_invites_to_add_a_client_first(owner_client):
    response = owner_client.get(reverse("dashboard:proposal_list"))
    assert response.status_code == 200
    assert "No proposals yet" in html(response)
    assert "Add a client" in html(response)


def test_empty_list_with_clients_invites_to_write_a_proposal(owner_client, business):
    ClientFactory(business=business)
    assert "Write a proposal" in html(owner_client.get(reverse("dashboard:proposal_list")))


def test_list_shows_proposals_and_free_plan_usage(owner_client, business):
    make_sent_proposal(business=business, title="Roof repair")
    make_proposal(business=business, title="Kitchen")
    page = html(owner_client.get(reverse("dashboard:proposal_list")))
    assert "Roof repair" in page and "Kitchen" in page
    assert "1 of 5" in page and "proposals sent this month" in page


def test_paid_plan_shows_no_usage(owner_client, business):
    Business.objects.filter(pk=business.pk).update(plan=Business.Plan.PAID)
    assert "sent this month" not in html(owner_client.get(reverse("dashboard:proposal_list")))


def test_list_filters_by_status_client_and_search(owner_client, business):
    ada = ClientFactory(business=business, name="Ada Lovelace")
    grace = ClientFactory(business=business, name="Grace Hopper")
    make_sent_proposal(business=business, client=ada, title="Engine plans")
    make_proposal(business=business, client=grace, title="Compiler manual")
    url = reverse("dashboard:proposal_list")

    page = html(owner_client.get(url, {"status": "sent"}))
    assert "Engine plans" in page and "Compiler manual" not in page
    page = html(owner_client.get(url, {"client": grace.pk}))
    assert "Compiler manual" in page and "Engine plans" not in page
    page = html(owner_client.get(url, {"q": "engine"}))
    assert "Engine plans" in page and "Compiler manual" not in page
    page = html(owner_client.get(url, {"q": "nothing like this"}))
    assert "No proposals match these filters" in page


def test_list_ignores_bad_filter_values(owner_client, business):
    make_proposal(business=business, title="Kitchen")
    response = owner_client.get(
        reverse("dashboard:proposal_list"), {"status": "bogus", "client": "x", "page": "zz"}
    )
    assert response.status_code == 200


def test_filter_boxes_show_what_was_asked_and_what_is_wrong(owner_client, business):
    url = reverse("dashboard:proposal_list")
    page = html(owner_client.get(url))
    assert 'value=""' not in tag_with_id(page, "id_q")
    assert '<option value="" selected>All statuses</option>' in page
    page = html(owner_client.get(url, {"q": '<b>"Kit', "status": "sent"}))
    assert 'value="&lt;b&gt;&quot;Kit"' in tag_with_id(page, "id_q")
    assert '<option value="sent" selected>Sent</option>' in page
    assert " selected>" not in page.replace('<option value="sent" selected>', "")
    assert "aria-invalid" not in tag_with_id(page, "id_status")
    page = html(owner_client.get(url, {"q": "x" * 201, "status": "bogus"}))
    status_box = tag_with_id(page, "id_status")
    assert 'aria-invalid="true"' in status_box
    assert 'aria-describedby="id_status-error"' in status_box
    assert re.search(r'<p class="field-error" id="id_status-error">Select a valid choice', page)
    assert " selected>" not in page
    search_box = tag_with_id(page, "id_q")
    assert 'aria-invalid="true"' in search_box and f'value="{"x" * 201}"' in search_box
    assert re.search(r'id="id_q-error">Ensure this value has at most 200 characters', page)


def test_list_rows_escape_what_the_business_typed(owner_client, business):
    client = ClientFactory(business=business, name="<i>Ada</i>", company="A & B")
    make_proposal(business=business, client=client, title="<script>x</script>")
    page = html(owner_client.get(reverse("dashboard:proposal_list")))
    assert "<script>x" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "&lt;i&gt;Ada&lt;/i&gt;" in page
    assert '<br><span class="muted">A &amp; B</span>' in page


PROPOSAL_LINK = re.compile(r'href="/app/proposals/(\d+)/"')


def listed(response) -> list[int]:
    """Proposal ids in the order the list shows them (each row links twice)."""
    return [int(pk) for pk in PROPOSAL_LINK.findall(html(response))[::2]]


def link(response, rel: str) -> str | None:
    match = re.search(rf'<a rel="{rel}" href="([^"]+)"', html(response))
    return unescape(match.group(1)) if match else None


def test_a_list_of_one_says_one_proposal(owner_client, business):
    make_proposal(business=business, client=ClientFactory(business=business), title="Only one")

    page = html(owner_client.get(reverse("dashboard:proposal_list")))

    assert "<span>Showing 1 proposal</span>" in page


def test_list_pages_by_cursor_newer_and_older(owner_client, business):
    client = ClientFactory(business=business)
    made = [
        make_proposal(business=business, client=client, title=f"Job {n:02d}") for n in range(27)
    ]
    url = reverse("dashboard:proposal_list")
    first = owner_client.get(url)
    assert listed(first) == [p.pk for p in reversed(made)][:25]
    assert "Showing 25 proposals; there are older ones" in html(first)
    assert link(first, "prev") is None
    older = owner_client.get(url + link(first, "next"))
    assert listed(older) == [made[1].pk, made[0].pk]
    assert link(older, "next") is None
    assert "Showing 2 proposals" in html(older)
    newer = owner_client.get(url + link(older, "prev"))
    assert listed(newer) == listed(first)


def test_every_proposal_is_listed_once_when_many_share_a_creation_time(owner_client, business):
    client = ClientFactory(business=business)
    made = {make_proposal(business=business, client=client).pk for _ in range(30)}
    Proposal.objects.filter(business=business).update(created_at=timezone.now())
    url = reverse("dashboard:proposal_list")
    response, seen = owner_client.get(url), []
    while True:
        seen += listed(response)
        if not link(response, "next"):
            break
        response = owner_client.get(url + link(response, "next"))
    assert sorted(seen) == sorted(made)
    back = owner_client.get(url + link(response, "prev"))
    assert listed(back) == seen[:25]


def test_older_pages_keep_the_filters(owner_client, business):
    Business.objects.filter(pk=business.pk).update(plan=Business.Plan.PAID)
    business.refresh_from_db()
    client = ClientFactory(business=business)
    for n in range(26):
        make_sent_proposal(business=business, client=client, title=f"Sent {n}")
    make_proposal(business=business, client=client, title="A draft")
    url = reverse("dashboard:proposal_list")
    first = owner_client.get(url, {"status": "sent"})
    nxt = link(first, "next")
    assert "status=sent" in nxt
    older = html(owner_client.get(url + nxt))
    assert "Sent 0" in older and "A draft" not in older


@pytest.mark.parametrize(
    "cursor",
    [
        "zz",
        "!!!",
        "W10",  # []
        base64.urlsafe_b64encode(b'["n","2026-13-45T00:00:00+00:00",1]').decode(),
        base64.urlsafe_b64encode(b'["n","2026-01-01T00:00:00",1]').decode(),  # naive
        base64.urlsafe_b64encode(b'["n","2026-01-01T00:00:00+00:00","x"]').decode(),
        base64.urlsafe_b64encode(b'["n","2026-01-01T00:00:00+00:00",' + b"9" * 40 + b"]").decode(),
        base64.urlsafe_b64encode(b'["x","2026-01-01T00:00:00+00:00",1]').decode(),
        base64.urlsafe_b64encode(b'["p",null,true]').decode(),
        "A" * 5000,
    ],
)
def test_a_damaged_cursor_gives_the_first_page(owner_client, business, cursor):
    make_proposal(business=business, title="Kitchen")
    response = owner_client.get(reverse("dashboard:proposal_list"), {"cursor": cursor})
    assert response.status_code == 200
    assert "Kitchen" in html(response)


def test_a_cursor_past_the_end_gives_the_first_page(owner_client, business):
    client = ClientFactory(business=business)
    for n in range(26):
        make_proposal(business=business, client=client, title=f"Job {n:02d}")
    url = reverse("dashboard:proposal_list")
    older = link(owner_client.get(url), "next")
    Proposal.objects.filter(business=business, title="Job 00").delete()
    response = owner_client.get(url + older)
    assert len(listed(response)) == 25 and "Job 25" in html(response)


def test_list_never_counts_or_offsets(owner_client, business):
    client = ClientFactory(business=business)
    for _ in range(27):
        make_proposal(business=business, client=client)
    url = reverse("dashboard:proposal_list")
    older = link(owner_client.get(url), "next")
    with CaptureQueriesContext(connection) as queries:
        owner_client.get(url + older)
        owner_client.get(url, {"status": "draft", "client": client.pk})
    on_proposals = [
        q["sql"].upper()
        for q in queries.captured_queries
        if '"proposals_proposal"' in q["sql"] and not is_pipeline_read(q["sql"])
    ]
    assert len(on_proposals) == 2
    assert not any("COUNT(" in sql or "OFFSET" in sql for sql in on_proposals)
    assert all("LIMIT 26" in sql for sql in on_proposals)


def test_list_query_count_is_fixed(owner_client, business, django_assert_num_queries):
    """The same number of queries for 5 and for 50 proposals, and for 5 and 50 clients."""
    clients = [ClientFactory(business=business) for _ in range(5)]
    for n in range(5):
        make_sent_proposal(business=business, client=clients[n], title=f"Job {n}")
    url = reverse("dashboard:proposal_list")
    owner_client.get(url)  # the session's first request may touch more
    with CaptureQueriesContext(connection) as five:
        assert owner_client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as five_by_client:
        owner_client.get(url, {"client": clients[0].pk, "status": "sent"})
    for n in range(45):
        ClientFactory(business=business)
        make_proposal(business=business, client=clients[n % 5], title=f"More {n}")
    with django_assert_num_queries(len(five.captured_queries)):
        response = owner_client.get(url)
    assert len(listed(response)) == 25
    with django_assert_num_queries(len(five_by_client.captured_queries)):
        owner_client.get(url, {"client": clients[0].pk, "status": "sent"})
    with django_assert_num_queries(len(five.captured_queries)):
        owner_client.get(url + link(response, "next"))


def test_list_page_does_not_carry_every_client(owner_client, business):
    names = [
        ClientFactory(business=business, name=f"Client Number {n:03d}").name for n in range(60)
    ]
    page = html(owner_client.get(reverse("dashboard:proposal_list")))
    assert not any(name in page for name in names)
    assert page.count("<option") == len(Proposal.Status.choices) + 1  # the status filter only
