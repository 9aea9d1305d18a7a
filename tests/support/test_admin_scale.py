"""The console at production size (issue 10): no COUNT(*), exact indexed search, bounded pages.

Every registered admin is driven as a "Support" staff user: its list, a search of each kind
(email, number, id, request id), and every choice of every filter. The plans themselves are
checked by tests/perf (EXPLAIN with seq scans off); here: behaviour and query counts.
"""

import re

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import StaffAction
from common.admin_tools import ScaleAdminMixin, max_page
from proposals.models import Delivery
from tests.accounts.factories import BusinessFactory
from tests.proposals.factories import ClientFactory, make_proposal, make_sent_proposal
from tests.support.factories import AttemptFactory, CallFactory, DeliveryFactory, ReceiptFactory

pytestmark = pytest.mark.django_db

SEARCH_TERMS = ["Client.Person@Example.COM", "P-0042", "42", "req-scale-0001", "no-such-thing"]
ADMINS = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label_lower)


def _url(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def _queries(client, url: str, **params) -> tuple[object, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    return response, [q["sql"] for q in captured.captured_queries]


def _world(n: int) -> None:
    """n rows in the big tables, around one business, including what the searches look for."""
    business = BusinessFactory.create()
    client = ClientFactory(business=business, email="client.person@example.com")
    for _ in range(n):
        proposal = make_proposal(business=business, client=client)
        delivery = DeliveryFactory(
            business=business, proposal=proposal, request_id="req-scale-0001"
        )
        AttemptFactory(delivery=delivery, request_id="req-scale-0001")
        CallFactory(business=business, request_id="req-scale-0001")
        ReceiptFactory(business=business, request_id="req-scale-0001")
        StaffAction.objects.create(action="test", outcome="ok", business=business)


def test_every_registered_admin_uses_the_scale_changelist():
    plain = [m._meta.label for m, a in ADMINS if not isinstance(a, ScaleAdminMixin)]
    assert plain == []


@pytest.mark.parametrize(
    "model_admin", [a for _, a in ADMINS], ids=[m._meta.label for m, _ in ADMINS]
)
def test_each_list_search_and_filter_renders_for_support_without_a_count(
    support_client, model_admin
):
    _world(3)
    url = _url(model_admin.model)
    response, sql = _queries(support_client, url)
    assert response.status_code == 200, url
    pages = [sql]
    if model_admin.search_fields:
        for term in SEARCH_TERMS:
            found, sql = _queries(support_client, url, q=term)
            assert found.status_code == 200, (url, term)
            pages.append(sql)
    cl = response.context["cl"]
    for spec in cl.filter_specs:
        for choice in spec.choices(cl):
            filtered = support_client.get(url + choice["query_string"])
            assert filtered.status_code == 200, (url, choice["query_string"])
    for statements in pages:
        counts = [s for s in statements if re.match(r"^\s*SELECT COUNT\(\*\)", s)]
        assert counts == [], (url, counts)
        # No UPPER(…) LIKE / = UPPER(…): those miss every index the tables have.
        assert not [s for s in statements if "UPPER(" in s], url


@pytest.mark.parametrize(
    "model_admin",
    [a for _, a in ADMINS if a.model._meta.app_label in ("proposals", "integrations", "accounts")],
    ids=[
        m._meta.label
        for m, _ in ADMINS
        if m._meta.app_label in ("proposals", "integrations", "accounts")
    ],
)
def test_lists_issue_the_same_number_of_queries_for_5_and_50_rows(support_client, model_admin):
    url = _url(model_admin.model)
    _world(5)
    few = len(_queries(support_client, url)[1])
    _world(45)
    many = len(_queries(support_client, url)[1])
    assert few == many


def test_a_full_page_says_there_is_more_without_counting(support_client):
    business = BusinessFactory()
    DeliveryFactory.create_batch(101, business=business)
    response = support_client.get(_url(Delivery))
    text = response.content.decode()
    assert "More than 100 deliveries" in text
    # The last page knows the exact total: the rows before it plus its own.
    second = support_client.get(_url(Delivery), {"p": 2})
    assert "101 deliveries" in second.content.decode()


def test_a_page_beyond_the_bound_is_refused_not_scanned(support_client):
    DeliveryFactory()
    response = support_client.get(
        _url(Delivery), {"p": max_page(admin.site._registry[Delivery].list_per_page) + 1}
    )
    assert response.status_code == 302  # the admin's "?e=1" (invalid lookup) redirect
    assert "e=1" in response["Location"]


def test_sorting_by_a_column_no_index_serves_is_ignored(support_client):
    DeliveryFactory()
    model_admin = admin.site._registry[Delivery]
    recipient = model_admin.list_display.index("recipient")
    response, sql = _queries(support_client, _url(Delivery), o=str(recipient))
    assert response.status_code == 200
    page = next(s for s in sql if 'FROM "proposals_delivery"' in s and "LIMIT" in s)
    assert '"recipient"' not in page.split("ORDER BY")[1]


def test_email_search_is_case_insensitive_through_lower(support_client):
    delivery = DeliveryFactory(recipient="Someone.Else@Example.org")
    DeliveryFactory(recipient="other@example.org")
    response, sql = _queries(support_client, _url(Delivery), q="SOMEONE.else@example.ORG")
    text = response.content.decode()
    assert reverse("admin:proposals_delivery_change", args=[delivery.pk]) in text
    assert "1 delivery" in text
    assert any("LOWER(" in s for s in sql)


def test_a_proposal_is_found_by_number_id_and_client_email(support_client):
    proposal, _ = make_sent_proposal()
    link = reverse("admin:proposals_proposal_change", args=[proposal.pk])
    for term in (proposal.display_number, str(proposal.number), proposal.client.email.upper()):
        response = support_client.get(_url(type(proposal)), {"q": term})
        assert link in response.content.decode(), term


def test_a_substring_no_longer_matches_but_an_instance_id_does(support_client):
    delivery = DeliveryFactory()
    url = _url(Delivery)
    link = reverse("admin:proposals_delivery_change", args=[delivery.pk])
    assert link not in support_client.get(url, {"q": "example"}).content.decode()
    by_business = support_client.get(url, {"q": delivery.business.instance_id})
    assert link in by_business.content.decode()


def test_support_search_by_an_uppercased_email_uses_lower_and_finds_everything(support_client):
    proposal, _ = make_sent_proposal()
    email = proposal.client.email.upper()
    with CaptureQueriesContext(connection) as captured:
        response = support_client.get(reverse("support-search"), {"q": email})
    text = response.content.decode()
    assert reverse("admin:proposals_proposal_change", args=[proposal.pk]) in text
    assert reverse("admin:proposals_client_change", args=[proposal.client_id]) in text
    sql = [q["sql"] for q in captured.captured_queries]
    assert not [s for s in sql if "UPPER(" in s]


def test_support_search_issues_the_same_number_of_queries_for_5_and_50_rows(support_client):
    business = BusinessFactory()
    client = ClientFactory(business=business, email="many@example.com")
    url = reverse("support-search")

    def count() -> int:
        return len(_queries(support_client, url, q="many@example.com")[1])

    for _ in range(5):
        make_proposal(business=business, client=client)
    few = count()
    for _ in range(45):
        make_proposal(business=business, client=client)
    assert count() == few


def test_the_business_page_caps_its_proposal_count(support_client, monkeypatch):
    from console import selectors

    business = BusinessFactory()
    for _ in range(4):
        make_proposal(business=business)
    monkeypatch.setattr(selectors, "COUNT_CAP", 3)
    monkeypatch.setattr("console.templatetags.console_tags.COUNT_CAP", 3)
    page = support_client.get(reverse("admin:accounts_business_support", args=[business.pk]))
    assert "(3+ in all)" in page.content.decode()
