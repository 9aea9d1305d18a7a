"""A bounce as the business and support see it: dashboard, timeline, admin; lifting, audited."""

import pytest
from django.test import Client as DjangoClient
from django.urls import reverse

from accounts.models import StaffAction
from proposals.delivery.sending import delivery_execute
from proposals.models import Delivery, Suppression
from tests.accounts.factories import BusinessFactory
from tests.proposals import mailgun
from tests.proposals.factories import ClientFactory, make_sent_proposal
from tests.support.factories import support_staff

pytestmark = pytest.mark.django_db


def bounced_email(client, business, email="gone@example.org") -> Delivery:
    customer = ClientFactory(business=business, email=email)
    _, version = make_sent_proposal(client=customer)
    delivery = Delivery.objects.get(version=version, kind=Delivery.Kind.PROPOSAL)
    assert delivery_execute(delivery.pk) == "sent"
    delivery.refresh_from_db()
    payload = mailgun.bounced(delivery.provider_message_id, delivery.recipient)
    assert mailgun.post(client, mailgun.sign(payload)).status_code == 200
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.BOUNCED
    return delivery


@pytest.fixture
def staff_client():
    staff = DjangoClient()
    staff.force_login(support_staff())
    return staff


def test_the_dashboard_shows_the_bounce_and_its_reason(
    owner_client, business, smtp_server, mailgun_webhooks
):
    delivery = bounced_email(DjangoClient(), business)
    page = owner_client.get(
        reverse("dashboard:proposal_detail", args=[delivery.proposal_id])
    ).content.decode()
    assert "An email bounced:" in page
    # The reason in the notice, on the timeline and beside the email's state ("Bounced").
    assert page.count("The email account that you tried to reach does not exist") >= 3
    assert "Bounced" in page


def test_the_admin_shows_the_bounce_and_its_events(
    staff_client, business, smtp_server, mailgun_webhooks
):
    delivery = bounced_email(DjangoClient(), business)
    page = staff_client.get(
        reverse("admin:proposals_delivery_change", args=[delivery.pk])
    ).content.decode()
    assert "The email account that you tried to reach does not exist" in page
    assert "Bounced" in page and "Mailgun" in page
    listing = staff_client.get(reverse("admin:proposals_suppression_changelist")).content.decode()
    assert "gone@example.org" in listing and "Hard bounce" in listing


def test_support_lifts_a_suppression_from_the_admin_audited_and_the_address_works_again(
    staff_client, business, smtp_server, mailgun_webhooks
):
    bounced_email(DjangoClient(), business)
    suppression = Suppression.objects.get()
    url = reverse("admin:proposals_suppression_changelist")
    response = staff_client.post(url, {"action": "lift", "_selected_action": [suppression.pk]})
    assert response.status_code == 302
    suppression.refresh_from_db()
    assert (
        suppression.lifted_at is not None and suppression.lifted_by.email == "support@example.com"
    )
    [audit] = StaffAction.objects.filter(action="suppression_lift")
    assert (audit.outcome, audit.business_id, audit.target_id) == (
        StaffAction.Outcome.OK,
        business.pk,
        str(suppression.pk),
    )
    # Lifting twice is refused, and that is audited too.
    staff_client.post(url, {"action": "lift", "_selected_action": [suppression.pk]})
    outcomes = StaffAction.objects.filter(action="suppression_lift").values_list(
        "outcome", flat=True
    )
    assert sorted(outcomes) == sorted([StaffAction.Outcome.OK, StaffAction.Outcome.REFUSED])
    customer = ClientFactory(business=business, email="GONE@example.org")
    _, version = make_sent_proposal(client=customer)
    later = Delivery.objects.get(version=version, kind=Delivery.Kind.PROPOSAL)
    assert delivery_execute(later.pk) == "sent"


def test_support_lifts_a_suppression_from_the_business_page(
    staff_client, business, smtp_server, mailgun_webhooks
):
    bounced_email(DjangoClient(), business)
    suppression = Suppression.objects.get()
    page_url = reverse("admin:accounts_business_support", args=[business.pk])
    page = staff_client.get(page_url).content.decode()
    assert "Suppressed addresses" in page and "gone@example.org" in page
    response = staff_client.post(
        page_url, {"action": "lift_suppression", "target": suppression.pk, "note": "fixed typo"}
    )
    assert response.status_code == 302
    suppression.refresh_from_db()
    assert not suppression.active and suppression.lift_note == "fixed typo"
    assert StaffAction.objects.get(action="suppression_lift").outcome == StaffAction.Outcome.OK


def test_the_business_page_cannot_lift_another_business_suppression(
    staff_client, business, smtp_server, mailgun_webhooks
):
    other = BusinessFactory()
    bounced_email(DjangoClient(), other)
    suppression = Suppression.objects.get()
    response = staff_client.post(
        reverse("admin:accounts_business_support", args=[business.pk]),
        {"action": "lift_suppression", "target": suppression.pk},
    )
    assert response.status_code == 404
    suppression.refresh_from_db()
    assert suppression.active


def test_a_viewer_without_support_rights_cannot_lift(business, smtp_server, mailgun_webhooks):
    from tests.accounts.factories import UserFactory

    bounced_email(DjangoClient(), business)
    viewer = DjangoClient()
    viewer.force_login(UserFactory(is_staff=True))
    response = viewer.post(
        reverse("admin:accounts_business_support", args=[business.pk]),
        {"action": "lift_suppression", "target": Suppression.objects.get().pk},
    )
    assert response.status_code == 403
    assert Suppression.objects.get().active


def _message_id(received) -> str:
    from email import message_from_bytes

    return message_from_bytes(received.data)["Message-ID"]


def test_support_sends_a_bounce_again_once_its_suppression_is_lifted(
    staff_client, business, smtp_server, mailgun_webhooks
):
    delivery = bounced_email(DjangoClient(), business)
    old_message_id = delivery.provider_message_id
    retry_url = reverse("admin:proposals_delivery_changelist")
    retry = {"action": "retry", "_selected_action": [delivery.pk]}

    # Still suppressed: refused with the reason, audited, nothing queued.
    page = staff_client.post(retry_url, retry, follow=True).content.decode()
    assert "address suppressed since" in page and "because it bounced" in page
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.BOUNCED
    [refused] = StaffAction.objects.filter(action="delivery_retry")
    assert (refused.outcome, refused.details["code"]) == (StaffAction.Outcome.REFUSED, "suppressed")

    suppression = Suppression.objects.get()
    staff_client.post(
        reverse("admin:proposals_suppression_changelist"),
        {"action": "lift", "_selected_action": [suppression.pk]},
    )
    staff_client.post(retry_url, retry)
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.PENDING and delivery.retried_by is not None
    assert (delivery.bounced_at, delivery.bounce_reason, delivery.provider_message_id) == (
        None,
        "",
        "",
    )
    ok = StaffAction.objects.filter(action="delivery_retry").latest("pk")
    assert (ok.outcome, ok.details["previous_state"]) == (StaffAction.Outcome.OK, "bounced")

    assert delivery_execute(delivery.pk) == "sent"
    delivery.refresh_from_db()
    first, again = smtp_server.received
    # A new message: its own Message-ID, which the webhooks now name it by.
    assert _message_id(again) == delivery.provider_message_id != _message_id(first)
    assert _message_id(first).strip("<>") == old_message_id.strip("<>")
    # A late event about the bounced message no longer lands on the email sent again.
    late = mailgun.bounced(old_message_id, delivery.recipient)
    assert mailgun.post(DjangoClient(), mailgun.sign(late)).status_code == 200
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.SENT


def test_the_business_sends_a_bounce_again_from_its_page_once_the_address_is_lifted(
    owner_client, owner, business, smtp_server, mailgun_webhooks
):
    from proposals.delivery.suppressions import suppression_lift

    delivery = bounced_email(DjangoClient(), business)
    page_url = reverse("dashboard:proposal_detail", args=[delivery.proposal_id])
    retry_url = reverse("dashboard:delivery_retry", args=[delivery.proposal_id, delivery.pk])
    assert "Send this email again" not in owner_client.get(page_url).content.decode()
    page = owner_client.post(retry_url, follow=True).content.decode()
    assert "This email cannot be sent: address suppressed since" in page
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.BOUNCED

    suppression_lift(suppression=Suppression.objects.get(), acting_user=support_staff())
    assert "Send this email again" in owner_client.get(page_url).content.decode()
    page = owner_client.post(retry_url, follow=True).content.decode()
    assert "queued again" in page
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.PENDING and delivery.retried_by == owner
    assert delivery_execute(delivery.pk) == "sent"
    assert len(smtp_server.received) == 2
