"""Support search: by anything a business can tell support, and a request id as a timeline."""

import pytest
from django.urls import reverse
from django_q.conf import Conf

from accounts.models import StaffAction
from integrations.models import IntegrationCall
from proposals.models import Activity, Delivery, DeliveryAttempt
from tests.proposals.factories import ClientFactory, make_proposal, make_sent_proposal
from tests.support.factories import CallFactory, ReceiptFactory

pytestmark = pytest.mark.django_db


def _search(client, q: str) -> str:
    response = client.get(reverse("support-search"), {"q": q})
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_request_id_shows_web_task_and_wix_records_as_one_timeline(
    owner_client, business, support_client, smtp_server, wix, monkeypatch
):
    wix.seed(instance_id=business.instance_id)
    proposal = make_proposal(client=ClientFactory(business=business))
    # Real commits (on_commit runs inside the request, as in production) and the worker in this
    # process (django-q2 sync), through the same task signals that carry the request id.
    monkeypatch.setattr(Conf, "SYNC", True)
    response = owner_client.post(
        reverse("dashboard:proposal_send", args=[proposal.pk]),
        {"message": "Hello"},
        HTTP_X_REQUEST_ID="req-trace-web-0001",
    )
    assert response.status_code == 302
    rid = "req-trace-web-0001"
    assert Activity.objects.filter(request_id=rid, kind="sent").exists()
    assert Delivery.objects.filter(request_id=rid).exists()
    assert DeliveryAttempt.objects.filter(request_id=rid, outcome="sent").exists()
    assert IntegrationCall.objects.filter(request_id=rid).exists()

    page = _search(support_client, rid)
    timeline = page[page.index('id="timeline"') :]
    for kind in ("activity", "delivery", "delivery attempt", "Wix call"):
        assert f">{kind}</a>" in timeline, kind
    assert "POST /contacts/v4/contacts" in timeline


def test_search_finds_a_business_by_instance_id_site_url_and_owner_email(support_client, business):
    for q in (
        business.instance_id,
        business.site_url.removeprefix("https://"),
        business.owner_email,
    ):
        assert reverse("admin:accounts_business_support", args=[business.pk]) in _search(
            support_client, q
        ), q


def test_search_finds_proposals_by_number_client_email_and_client_link_token(support_client):
    proposal, version = make_sent_proposal()
    url = reverse("admin:proposals_proposal_change", args=[proposal.pk])
    for q in (proposal.display_number, proposal.client.email, version.token):
        assert url in _search(support_client, q), q


def test_a_request_id_also_finds_webhooks_and_staff_actions(support_client, business):
    ReceiptFactory(business=business, request_id="req-hook-0001", status="rejected")
    CallFactory(business=business, request_id="req-hook-0001")
    StaffAction.objects.create(
        action="webhook_replay", outcome="ok", request_id="req-hook-0001", business=business
    )
    page = _search(support_client, "req-hook-0001")
    assert "(3 records)" in page
    assert ">webhook</a>" in page and ">staff action</a>" in page


def test_search_needs_staff(client, business):
    response = client.get(reverse("support-search"), {"q": business.instance_id})
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_staff_without_view_permissions_cannot_search(client, business):
    from tests.accounts.factories import UserFactory

    client.force_login(UserFactory(email="staff@example.com", is_staff=True))
    response = client.get(reverse("support-search"), {"q": business.instance_id})
    assert response.status_code == 403
