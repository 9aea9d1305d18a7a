"""The business support page: one screen for the support questions, and its safe actions."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import StaffAction
from common.money import format_money
from integrations.models import CircuitBreaker, WixInvoice
from proposals.models import Delivery
from tests.accounts.factories import MembershipFactory
from tests.proposals.factories import make_sent_proposal
from tests.support.factories import (
    AttemptFactory,
    BreakerFactory,
    CallFactory,
    DeliveryFactory,
    ReceiptFactory,
    invoiced_payments,
)

pytestmark = pytest.mark.django_db


def _page(client, business) -> str:
    response = client.get(reverse("admin:accounts_business_support", args=[business.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_page_answers_the_support_questions(support_client, business):
    member = MembershipFactory(business=business).user
    proposal, _ = make_sent_proposal(business=business)
    failed = DeliveryFactory(
        business=business, proposal=proposal, last_error="mailbox does not exist"
    )
    stuck = DeliveryFactory(business=business, state=Delivery.State.PENDING)
    Delivery.objects.filter(pk=stuck.pk).update(updated_at=timezone.now() - timedelta(hours=2))
    ReceiptFactory(business=business, last_error="Wix unavailable: HTTP 503")
    CallFactory(business=business, error="HTTP 503 from contacts", request_id="req-call-0001")
    BreakerFactory(api="contacts")
    page = _page(support_client, business)
    assert business.instance_id in page and "Free" in page and "Active" in page
    assert member.email in page
    assert proposal.display_number in page
    assert "mailbox does not exist" in page
    assert reverse("admin:proposals_delivery_change", args=[failed.pk]) in page
    assert reverse("admin:proposals_proposal_change", args=[proposal.pk]) in page
    assert reverse("admin:proposals_delivery_change", args=[stuck.pk]) in page
    assert "Wix unavailable: HTTP 503" in page
    assert "HTTP 503 from contacts" in page
    assert "Open" in page  # the contacts circuit
    assert "AppInstalled" in page  # install history


def test_the_delivery_and_proposal_pages_link_back_to_the_business_page(support_client):
    proposal, _ = make_sent_proposal()
    delivery = Delivery.objects.get(proposal=proposal)
    back = reverse("admin:accounts_business_support", args=[proposal.business_id])
    for url in (
        reverse("admin:proposals_delivery_change", args=[delivery.pk]),
        reverse("admin:proposals_proposal_change", args=[proposal.pk]),
        reverse("admin:proposals_delivery_changelist"),
        reverse("admin:accounts_business_change", args=[proposal.business_id]),
        reverse("admin:accounts_business_changelist"),
    ):
        assert back in support_client.get(url).content.decode(), url


def _act(client, business, action, target=""):
    return client.post(
        reverse("admin:accounts_business_support", args=[business.pk]),
        {"action": action, "target": target},
        follow=True,
    )


def test_actions_on_the_page_are_audited_and_shown_there(support_client, business):
    failed = DeliveryFactory(business=business)
    sent = DeliveryFactory(business=business, state=Delivery.State.SENT)
    circuit = BreakerFactory(api="contacts")
    _act(support_client, business, "retry_delivery", failed.pk)
    response = _act(support_client, business, "retry_delivery", sent.pk)
    assert "already sent" in response.content.decode()
    _act(support_client, business, "reset_breaker", circuit.pk)
    page = _page(support_client, business)
    rows = list(StaffAction.objects.filter(business=business).values_list("action", "outcome"))
    assert ("delivery_retry", "ok") in rows and ("delivery_retry", "refused") in rows
    assert CircuitBreaker.objects.get(pk=circuit.pk).state == "closed"
    assert page.count("delivery_retry</a>") == 2
    assert "Refused" in page


def test_a_delivery_of_another_business_cannot_be_retried_from_this_page(
    support_client, business, other_business
):
    foreign = DeliveryFactory(business=other_business)
    response = _act(support_client, business, "retry_delivery", foreign.pk)
    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.state == Delivery.State.FAILED_PERMANENT


def test_staff_without_the_support_permission_cannot_act(client, business):
    from django.contrib.auth.models import Permission

    from tests.accounts.factories import UserFactory

    viewer = UserFactory(email="viewer@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_business"))
    client.force_login(viewer)
    failed = DeliveryFactory(business=business)
    assert "Retry</button>" not in _page(client, business)
    assert _act(client, business, "retry_delivery", failed.pk).status_code == 403
    assert not StaffAction.objects.exists()


def test_bulk_retry_confirmation_states_the_count_then_retries(support_client):
    DeliveryFactory.create_batch(3)
    DeliveryFactory(state=Delivery.State.SENT)
    url = reverse("support-bulk-retry")
    page = support_client.get(url).content.decode()
    assert "This will retry 3 failed deliveries across 3 businesses" in page
    now = timezone.now()
    response = support_client.post(
        url,
        {
            "since": (now - timedelta(hours=1)).isoformat(),
            "until": (now + timedelta(minutes=1)).isoformat(),
            "expected": "3",
        },
    )
    assert response.status_code == 302
    assert Delivery.objects.filter(state=Delivery.State.PENDING).count() == 3
    assert StaffAction.objects.filter(action="deliveries_bulk_retry", outcome="ok").exists()


def test_incidents_overview_on_the_admin_index_links_to_filtered_lists(support_client):
    DeliveryFactory.create_batch(2)
    ReceiptFactory(status="rejected", verified=False, rejected_reason="bad_signature")
    CallFactory()
    BreakerFactory(api="contacts")
    page = support_client.get(reverse("admin:index")).content.decode()
    assert 'id="incidents"' in page
    assert reverse("admin:proposals_delivery_changelist") + "?state__exact=failed_permanent" in page
    assert "?status__exact=rejected" in page
    assert "contacts (Open)" in page
    # The links filter: following one lists exactly the failures it counted.
    start = page.index("?state__exact=failed_permanent")
    link = reverse("admin:proposals_delivery_changelist") + page[start : page.index('"', start)]
    listing = support_client.get(link.replace("&amp;", "&"))
    assert listing.status_code == 200
    assert "2 deliveries" in listing.content.decode()


def test_an_action_that_fails_is_audited_as_an_error_and_shown(support_client, business, settings):
    from integrations.wix.client import reset_transport
    from tests.proposals.smtp import free_port

    settings.WIX_API_BASE_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens: Wix is down
    settings.WIX_CALL_DEADLINE = 1.0
    reset_transport()
    try:
        response = _act(support_client, business, "refresh_token")
    finally:
        reset_transport()
    assert "The action failed" in response.content.decode()
    row = StaffAction.objects.get(action="wix_token_refresh")
    assert row.outcome == StaffAction.Outcome.ERROR
    assert "connection error" in row.message
    assert "Error" in _page(support_client, business)


def test_each_overview_number_links_to_a_list_of_exactly_what_it_counts(support_client):
    DeliveryFactory.create_batch(2)
    stuck = DeliveryFactory(state=Delivery.State.PENDING)
    Delivery.objects.filter(pk=stuck.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    AttemptFactory(outcome="transient_failure")
    AttemptFactory(outcome="permanent_failure")
    AttemptFactory(outcome="sent")
    page = support_client.get(reverse("admin:index")).content.decode()
    overview = page[
        page.index('id="incidents"') : page.index("</table>", page.index('id="incidents"'))
    ]
    links = re.findall(r'<a href="([^"]+)"[^>]*>(\d+)</a>', overview)
    assert links
    for url, number in links:
        listing = support_client.get(url.replace("&amp;", "&"))
        assert listing.status_code == 200, url
        text = listing.content.decode()
        things = "delivery|deliveries|delivery attempts?|integration calls?|webhook receipts?"
        assert re.search(rf"\b{number} ({things})\b", text), (url, number)


def test_retry_from_the_delivery_page_returns_there_and_is_audited(support_client, business):
    failed = DeliveryFactory(business=business)
    page = reverse("admin:proposals_delivery_change", args=[failed.pk])
    assert "Retry now" in support_client.get(page).content.decode()
    response = support_client.post(
        reverse("admin:accounts_business_support", args=[business.pk]),
        {"action": "retry_delivery", "target": failed.pk, "next": page},
    )
    assert response["Location"] == page
    failed.refresh_from_db()
    assert failed.state == Delivery.State.PENDING
    assert StaffAction.objects.get().action == "delivery_retry"


def test_an_outside_next_url_is_ignored(support_client, business):
    failed = DeliveryFactory(business=business)
    response = support_client.post(
        reverse("admin:accounts_business_support", args=[business.pk]),
        {"action": "retry_delivery", "target": failed.pk, "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("admin:accounts_business_support", args=[business.pk])


def test_resend_link_from_the_proposal_page(support_client, business):
    proposal, _ = make_sent_proposal(business=business)
    page = reverse("admin:proposals_proposal_change", args=[proposal.pk])
    assert "Resend link" in support_client.get(page).content.decode()
    support_client.post(
        reverse("admin:accounts_business_support", args=[business.pk]),
        {"action": "resend_link", "target": proposal.pk, "next": page},
    )
    assert Delivery.objects.filter(proposal=proposal).count() == 2


def test_the_page_shows_each_payments_wix_invoice_and_tries_a_failed_one_again(
    support_client, business, other_business
):
    from integrations.models import WixInvoice

    deposit, balance = invoiced_payments(business)
    WixInvoice.objects.filter(pk=deposit.pk).update(
        step="watch", number="INV-0042", payment="partially_paid", paid_amount=10
    )
    WixInvoice.objects.filter(pk=balance.pk).update(
        state="failed", next_attempt_at=None, last_error="Wix Invoices is not enabled on this site"
    )
    page = _page(support_client, business)
    assert "INV-0042" in page and "Partially paid" in page
    assert "Wix Invoices is not enabled on this site" in page
    assert reverse("admin:integrations_wixinvoice_change", args=[balance.pk]) in page
    assert page.count('value="retry_invoice"') == 1  # only the failed one offers it

    (foreign, _) = invoiced_payments(other_business)
    assert _act(support_client, business, "retry_invoice", foreign.pk).status_code == 404
    _act(support_client, business, "retry_invoice", balance.pk)
    balance.refresh_from_db()
    assert balance.state == WixInvoice.State.PENDING and balance.next_attempt_at is not None
    audited = StaffAction.objects.filter(business=business, action="wix_invoice_retry")
    assert list(audited.values_list("outcome", flat=True)) == ["ok"]


def test_the_page_writes_amounts_as_the_business_does(support_client, business):
    """Issue 13 pt 3: as the admin's lists do, not as the staff member's request would."""
    business.locale, business.currency = "de-DE", "EUR"
    business.save()
    deposit, _ = invoiced_payments(business)
    WixInvoice.objects.filter(pk=deposit.pk).update(payment="partially_paid", paid_amount=1234.5)
    page = _page(support_client, business).replace("&nbsp;", "\xa0")
    written = format_money(deposit.amount, deposit.currency, "de-DE")
    assert written.startswith("586,50") and f"Deposit</a> {written}" in page
    assert f"({format_money(1234.5, deposit.currency, 'de-DE')})" in page
