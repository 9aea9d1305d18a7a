"""Dashboard pages: the proposal list, a proposal's page, its editor and its actions."""

import base64
import re
from html import unescape

import pytest
from django.db import connection
from django.test import Client as DjangoClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Business
from proposals import services
from proposals.models import Activity, Proposal, ProposalView
from tests.accounts.factories import UserFactory
from tests.proposals.factories import (
    ClientFactory,
    make_proposal,
    make_sent_proposal,
)

pytestmark = pytest.mark.django_db


def html(response) -> str:
    return response.content.decode()


def is_pipeline_read(sql: str) -> bool:
    """The list's pipeline totals: counts over the open and this month's accepted proposals
    only, from their own partial indexes (tests/proposals/test_views_list_pipeline.py)."""
    return "UNION ALL" in sql and "'accepted'" in sql and "'viewed'" in sql


def tag_with_id(page: str, element_id: str) -> str:
    match = re.search(rf'<(?:input|select|textarea)[^>]*\bid="{element_id}"[^>]*>', page)
    assert match, f"no field with id {element_id}"
    return match.group(0)


def editor_post(**overrides) -> dict:
    """A valid create/edit POST: one section with two items and one optional one."""
    data = {
        "title": "Garden makeover",
        "currency": "USD",
        "valid_until": "",
        "intro": "<p>Hello</p>",
        "terms": "",
        "s-count": "1",
        "s-0-title": "Work",
        "s-0-i-count": "3",
        "s-0-i-0-name": "Design",
        "s-0-i-0-quantity": "1",
        "s-0-i-0-unit_price": "500",
        "s-0-i-1-name": "Planting",
        "s-0-i-1-quantity": "2",
        "s-0-i-1-unit_price": "120.50",
        "s-0-i-1-tax_rate": "20",
        "s-0-i-2-name": "Pond",
        "s-0-i-2-quantity": "1",
        "s-0-i-2-unit_price": "900",
        "s-0-i-2-optional": "on",
    }
    data.update(overrides)
    return data


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


# --- the free plan's counter ------------------------------------------------------------------
def test_a_paid_business_never_counts_its_sends(owner_client, business):
    Business.objects.filter(pk=business.pk).update(plan=Business.Plan.PAID)
    proposal, _ = make_sent_proposal(business=business)
    for url in (
        reverse("dashboard:proposal_list"),
        reverse("dashboard:proposal_detail", args=[proposal.pk]),
    ):
        with CaptureQueriesContext(connection) as queries:
            assert owner_client.get(url).status_code == 200
        counts = [
            q["sql"]
            for q in queries.captured_queries
            if "COUNT(" in q["sql"].upper() and not is_pipeline_read(q["sql"])
        ]
        assert counts == [], url


def test_a_free_business_counts_its_sends_once_per_page(owner_client, business):
    sent, _ = make_sent_proposal(business=business)
    draft = make_proposal(business=business)
    # A sent proposal's page does not show the usage, so it does not count either.
    with CaptureQueriesContext(connection) as queries:
        assert (
            owner_client.get(reverse("dashboard:proposal_detail", args=[sent.pk])).status_code
            == 200
        )
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
    for url in (
        reverse("dashboard:proposal_list"),
        reverse("dashboard:proposal_detail", args=[draft.pk]),
    ):
        with CaptureQueriesContext(connection) as queries:
            assert "1 of 5" in html(owner_client.get(url))
        counts = [
            q["sql"]
            for q in queries.captured_queries
            if "COUNT(" in q["sql"].upper() and not is_pipeline_read(q["sql"])
        ]
        assert len(counts) == 1 and "proposals_proposalversion" in counts[0], url


# --- create and edit ------------------------------------------------------------------------
def test_create_page_without_clients_asks_for_one(owner_client):
    page = html(owner_client.get(reverse("dashboard:proposal_create")))
    assert "Add a client first" in page


def test_create_proposal_with_items(owner_client, business):
    ada = ClientFactory(business=business)
    response = owner_client.post(
        reverse("dashboard:proposal_create"), editor_post(client=str(ada.pk))
    )
    proposal = Proposal.objects.get(business=business)
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:proposal_detail", args=[proposal.pk])
    assert proposal.title == "Garden makeover"
    items = [i for s in services.working_copy_sections(proposal) for i in s["items"]]
    assert [i["name"] for i in items] == ["Design", "Planting", "Pond"]
    assert items[2]["optional"] is True and items[2]["selected"] is False
    page = html(owner_client.get(response["Location"]))
    assert "created as a draft" in page
    assert "$789.20" in page  # 500 + 2 × 120.50 × 1.2; the optional pond is not counted


def test_create_shows_errors_next_to_fields(owner_client, business):
    ada = ClientFactory(business=business)
    response = owner_client.post(
        reverse("dashboard:proposal_create"),
        editor_post(client=str(ada.pk), title="", **{"s-0-i-1-unit_price": "abc"}),
    )
    assert response.status_code == 400
    page = html(response)
    for field_id in ("id_title", "id_s-0-i-1-unit_price"):
        tag = tag_with_id(page, field_id)
        assert 'aria-invalid="true"' in tag
        assert f"{field_id}-error" in tag  # aria-describedby points at the message
        assert f'<p class="field-error" id="{field_id}-error">' in page
    assert "Please fix the problems below" in page
    assert 'aria-invalid="true"' not in tag_with_id(page, "id_s-0-i-0-name")
    assert not Proposal.objects.exists()


def test_item_without_price_is_an_error_but_blank_rows_are_ignored(owner_client, business):
    ada = ClientFactory(business=business)
    data = editor_post(client=str(ada.pk), **{"s-0-i-1-unit_price": "", "s-0-i-count": "4"})
    response = owner_client.post(reverse("dashboard:proposal_create"), data)
    assert response.status_code == 400
    assert "Enter a price" in html(response)
    data["s-0-i-1-unit_price"] = "10"
    response = owner_client.post(reverse("dashboard:proposal_create"), data)
    assert response.status_code == 302


def test_foreign_client_id_is_refused(owner_client, business, other_business):
    ClientFactory(business=business)
    foreign = ClientFactory(business=other_business)
    response = owner_client.post(
        reverse("dashboard:proposal_create"), editor_post(client=str(foreign.pk))
    )
    assert response.status_code == 400
    assert not Proposal.objects.exists()


def test_add_row_without_javascript_keeps_the_input(owner_client, business):
    ada = ClientFactory(business=business)
    response = owner_client.post(
        reverse("dashboard:proposal_create"), editor_post(client=str(ada.pk), add_item="0")
    )
    page = html(response)
    assert response.status_code == 200
    assert 'name="s-0-i-3-name"' in page
    assert 'value="Planting"' in page
    assert "field-error" not in page
    response = owner_client.post(
        reverse("dashboard:proposal_create"), editor_post(client=str(ada.pk), add_section="1")
    )
    assert 'name="s-1-i-0-name"' in html(response)
    assert not Proposal.objects.exists()


def test_edit_prefills_and_saves(owner_client, business, owner):
    proposal = make_proposal(business=business, acting_user=owner)
    page = html(owner_client.get(reverse("dashboard:proposal_edit", args=[proposal.pk])))
    assert 'value="Website redesign"' in page
    assert 'value="Development"' in page
    assert 'value="95.5"' in page
    data = editor_post(client=str(proposal.client_id), title="Renamed", revision=proposal.revision)
    response = owner_client.post(reverse("dashboard:proposal_edit", args=[proposal.pk]), data)
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.title == "Renamed"


def test_edit_detects_a_concurrent_change(owner_client, business):
    proposal = make_proposal(business=business)
    stale = proposal.revision
    services.proposal_update(
        proposal=proposal, acting_user=None, title="Theirs", client=proposal.client,
        currency="USD", valid_until=None, intro="", terms="", sections=[],
    )  # fmt: skip
    data = editor_post(client=str(proposal.client_id), title="Mine", revision=stale)
    response = owner_client.post(reverse("dashboard:proposal_edit", args=[proposal.pk]), data)
    assert response.status_code == 400
    assert "changed by someone else" in html(response)
    proposal.refresh_from_db()
    assert proposal.title == "Theirs"


def test_accepted_proposal_is_read_only(owner_client, business):
    proposal, version = make_sent_proposal(business=business)
    services.proposal_accept(
        version=version, signed_name="Ada", agreed=True, selected_item_keys=[], ip=None,
        user_agent="",
    )  # fmt: skip
    detail = html(owner_client.get(reverse("dashboard:proposal_detail", args=[proposal.pk])))
    assert reverse("dashboard:proposal_edit", args=[proposal.pk]) not in detail
    assert "Accepted" in detail and "Signed by" in detail
    response = owner_client.get(reverse("dashboard:proposal_edit", args=[proposal.pk]))
    assert response.status_code == 302
    follow = html(owner_client.get(response["Location"]))
    assert "can no longer be edited" in follow
    data = editor_post(client=str(proposal.client_id))
    response = owner_client.post(reverse("dashboard:proposal_edit", args=[proposal.pk]), data)
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.title == "Website redesign"


# --- detail and actions ---------------------------------------------------------------------
def test_detail_shows_totals_versions_and_timeline(owner_client, business, owner):
    proposal = make_proposal(business=business, acting_user=owner)
    services.proposal_send(proposal=proposal, acting_user=owner, message="Hi")
    page = html(owner_client.get(reverse("dashboard:proposal_detail", args=[proposal.pk])))
    assert "Version 1" in page
    assert "Timeline" in page and "created the proposal" in page and "sent version 1" in page
    assert owner.get_full_name() in page
    assert "$2,346.00" in page  # 1200 + 10 × 95.50 × 1.2


def _busy_proposal(business, owner, *, sections_count: int, items: int, rounds: int):
    """A sent proposal with that many sections × items, versions, views and failed emails."""
    from proposals.models import Delivery

    content = [
        {
            "title": f"Part {s}",
            "items": [
                {"name": f"Item {s}.{i}", "quantity": "2", "unit_price": "10.00"}
                for i in range(items)
            ],
        }
        for s in range(sections_count)
    ]
    proposal = make_proposal(business=business, acting_user=owner, sections=content)
    for n in range(rounds):
        version = services.proposal_send(proposal=proposal, acting_user=owner)
        services.proposal_mark_viewed(version=version, ip="203.0.113.9", user_agent="UA")
        proposal.refresh_from_db()
        services.proposal_update(
            proposal=proposal, acting_user=owner, title=f"Round {n}", client=proposal.client,
            currency="USD", valid_until=None, intro="", terms="", sections=content,
        )  # fmt: skip
        proposal.refresh_from_db()
    Delivery.objects.filter(proposal=proposal).update(
        state=Delivery.State.FAILED_PERMANENT, last_error="550 mailbox unavailable"
    )
    return proposal


def test_detail_query_count_is_fixed(owner_client, business, owner, django_assert_num_queries):
    """The same queries for 1 section of 2 items and 2 versions as for 8 × 10 and 4 versions."""
    small = _busy_proposal(business, owner, sections_count=1, items=2, rounds=2)
    big = _busy_proposal(business, owner, sections_count=8, items=10, rounds=4)
    owner_client.get(reverse("dashboard:proposal_detail", args=[small.pk]))
    with CaptureQueriesContext(connection) as few:
        page = html(owner_client.get(reverse("dashboard:proposal_detail", args=[small.pk])))
    assert "Item 0.1" in page and "550 mailbox unavailable" in page
    with django_assert_num_queries(len(few.captured_queries)) as many:
        page = html(owner_client.get(reverse("dashboard:proposal_detail", args=[big.pk])))
    assert "Item 7.9" in page and "Version 4" in page and "$1,600.00" in page
    # Sections and their items are one query (a LEFT JOIN), and no frozen snapshot is loaded
    # but the current one.
    sql = [q["sql"] for q in many.captured_queries]
    assert sum('FROM "proposals_section"' in q for q in sql) == 1
    assert sum('JOIN "proposals_lineitem"' in q for q in sql) == 1
    assert not any('FROM "proposals_lineitem"' in q for q in sql)
    assert sum('"proposals_proposalversion"."snapshot"' in q for q in sql) <= 1


def test_a_proposal_sent_once_or_never_needs_no_version_query(owner_client, business, owner):
    """The current version (with its sender) is the only one when it is version 1."""
    once = _busy_proposal(business, owner, sections_count=1, items=2, rounds=1)
    twice = _busy_proposal(business, owner, sections_count=1, items=2, rounds=2)
    draft = make_proposal(business=business, acting_user=owner, title="Not yet")
    counts = {}
    for name, proposal in (("once", once), ("twice", twice), ("draft", draft)):
        url = reverse("dashboard:proposal_detail", args=[proposal.pk])
        owner_client.get(url)
        with CaptureQueriesContext(connection) as queries:
            page = html(owner_client.get(url))
        # The version list reads by proposal (a draft's page also counts the month's sends).
        versions = [
            q
            for q in queries.captured_queries
            if 'FROM "proposals_proposalversion"' in q["sql"]
            and '"proposals_proposalversion"."proposal_id" = ' in q["sql"]
        ]
        counts[name] = (len(queries.captured_queries), len(versions))
        if name != "draft":
            owner_name = owner.get_full_name()
            assert page.count("<strong>Version ") == (1 if name == "once" else 2)
            assert f"by {owner_name}" in page and "Client's link" in page
        else:
            assert "Not sent yet." in page
    assert counts["once"] == (counts["twice"][0] - 1, 0)
    assert counts["draft"][1] == 0


def test_send_records_a_delivery_and_says_so(owner_client, business):
    proposal = make_proposal(business=business)
    response = owner_client.post(
        reverse("dashboard:proposal_send", args=[proposal.pk]), {"message": "Hello there"}
    )
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.SENT
    assert proposal.deliveries.count() == 1
    assert "Sent to" in html(owner_client.get(response["Location"]))


def test_a_double_submitted_send_form_sends_once(owner_client, business):
    proposal = make_proposal(business=business)
    page = html(owner_client.get(reverse("dashboard:proposal_detail", args=[proposal.pk])))
    assert f'name="revision" value="{proposal.revision}"' in page
    url = reverse("dashboard:proposal_send", args=[proposal.pk])
    form = {"message": "Hi", "revision": proposal.revision}
    owner_client.post(url, form)
    response = owner_client.post(url, form)
    assert "changed since the page was loaded" in html(owner_client.get(response["Location"]))
    assert proposal.versions.count() == 1
    assert proposal.deliveries.count() == 1


def test_send_refusal_is_a_message_not_an_error(owner_client, business, settings):
    settings.FREE_PLAN_MONTHLY_SENDS = 0
    proposal = make_proposal(business=business)
    response = owner_client.post(reverse("dashboard:proposal_send", args=[proposal.pk]))
    page = html(owner_client.get(response["Location"]))
    assert "Not sent" in page and "free plan" in page
    empty = make_proposal(business=business, sections=[])
    settings.FREE_PLAN_MONTHLY_SENDS = 5
    response = owner_client.post(reverse("dashboard:proposal_send", args=[empty.pk]))
    assert "Add at least one line item" in html(owner_client.get(response["Location"]))


def test_withdraw_and_duplicate(owner_client, business):
    proposal, _ = make_sent_proposal(business=business)
    response = owner_client.post(reverse("dashboard:proposal_withdraw", args=[proposal.pk]))
    assert "Withdrawn" in html(owner_client.get(response["Location"]))
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.WITHDRAWN
    # Withdrawing twice is a clear message, not an error page.
    response = owner_client.post(reverse("dashboard:proposal_withdraw", args=[proposal.pk]))
    assert "Only a sent proposal" in html(owner_client.get(response["Location"]))

    response = owner_client.post(
        reverse("dashboard:proposal_duplicate", args=[proposal.pk]), {"title": "Spring garden"}
    )
    copy = Proposal.objects.exclude(pk=proposal.pk).get()
    assert response["Location"] == reverse("dashboard:proposal_edit", args=[copy.pk])
    assert copy.status == Proposal.Status.DRAFT
    assert copy.title == "Spring garden"


def test_actions_refuse_get(owner_client, business):
    proposal = make_proposal(business=business)
    for name in ("proposal_send", "proposal_withdraw", "proposal_duplicate"):
        assert owner_client.get(reverse(f"dashboard:{name}", args=[proposal.pk])).status_code == 405


def test_preview_renders_working_copy_without_counting_a_view(owner_client, business):
    proposal, version = make_sent_proposal(business=business)
    response = owner_client.get(reverse("dashboard:proposal_preview", args=[proposal.pk]))
    assert response.status_code == 200
    page = html(response)
    assert "Preview" in page and "Website redesign" in page
    assert "Accept proposal" not in page
    assert version.token not in page
    assert not ProposalView.objects.exists()
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.SENT


def test_preview_update_total_counts_ticked_options(owner_client, business):
    proposal = make_proposal(business=business)
    optional = [
        i for s in services.working_copy_sections(proposal) for i in s["items"] if i["optional"]
    ][0]
    url = reverse("dashboard:proposal_preview", args=[proposal.pk])
    assert "$2,346.00" in html(owner_client.get(url))
    page = html(owner_client.get(url, {"update_total": "1", "item": optional["key"]}))
    assert "$2,586.00" in page


def test_delivery_failure_is_on_the_page(owner_client, business):
    from proposals.models import Delivery

    proposal, _ = make_sent_proposal(business=business)
    Delivery.objects.filter(proposal=proposal).update(
        state=Delivery.State.FAILED_PERMANENT, last_error="550 mailbox unavailable"
    )
    page = html(owner_client.get(reverse("dashboard:proposal_detail", args=[proposal.pk])))
    assert "550 mailbox unavailable" in page
    assert "An email failed" in page


def test_timeline_names_the_client_and_system(owner_client, business):
    proposal, version = make_sent_proposal(business=business)
    services.proposal_mark_viewed(version=version, ip="203.0.113.9", user_agent="UA")
    page = html(owner_client.get(reverse("dashboard:proposal_detail", args=[proposal.pk])))
    assert "The client opened version 1" in page
    assert Activity.objects.filter(proposal=proposal, kind=Activity.Kind.VIEWED).exists()


def test_retry_a_failed_delivery_from_the_page(owner_client, business):
    from proposals.models import Delivery

    proposal, _ = make_sent_proposal(business=business)
    delivery = proposal.deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(
        state=Delivery.State.FAILED_PERMANENT, last_error="550 mailbox unavailable"
    )
    url = reverse("dashboard:delivery_retry", args=[proposal.pk, delivery.pk])
    assert url in html(owner_client.get(reverse("dashboard:proposal_detail", args=[proposal.pk])))
    response = owner_client.post(url)
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.PENDING
    assert "queued again" in html(owner_client.get(response["Location"]))


def test_retrying_a_sent_delivery_is_a_message(owner_client, business):
    from proposals.models import Delivery

    proposal, _ = make_sent_proposal(business=business)
    delivery = proposal.deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.State.SENT)
    response = owner_client.post(
        reverse("dashboard:delivery_retry", args=[proposal.pk, delivery.pk])
    )
    assert response.status_code == 302
    assert "already sent" in html(owner_client.get(response["Location"]))


def test_fixed_urls_follow_the_script_prefix():
    from django.urls import set_script_prefix

    from proposals.templatetags.proposal_tags import fixed_url

    assert fixed_url("dashboard:proposal_list") == reverse("dashboard:proposal_list") == "/app/"
    try:
        set_script_prefix("/proposals/")
        assert fixed_url("dashboard:proposal_list") == "/proposals/app/"
    finally:
        set_script_prefix("/")
    assert fixed_url("dashboard:client_list") == reverse("dashboard:client_list")
