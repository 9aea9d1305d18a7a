"""Bounces and complaints: Mailgun's signed tracking webhooks (through anymail) and suppressions.

Emails go out to the loopback SMTP server (tests/proposals/smtp.py) or the loopback Mailgun API
(tests/proposals/mailgun.py); the webhooks are posted signed as Mailgun signs them. What the
webhook refuses, its settings and its races are in test_bounces_webhook.py.
"""

from urllib.parse import parse_qs

import pytest

from proposals.delivery.sending import delivery_execute
from proposals.models import Activity, Delivery, DeliveryAttempt, DeliveryEvent, Suppression
from tests.accounts.factories import BusinessFactory
from tests.proposals import mailgun
from tests.proposals.bounced_emails import bounce, proposal_email, sent_email

pytestmark = pytest.mark.django_db


# --- sending: the id the webhooks will name ------------------------------------------------


def test_over_smtp_the_provider_id_is_our_message_id(smtp_server):
    delivery = sent_email()
    assert delivery.provider_message_id == delivery.message_id
    assert delivery.message_id.startswith("<delivery.")
    assert f"Message-ID: {delivery.message_id}" in smtp_server.received[0].text


def test_through_mailgun_the_provider_id_is_the_one_mailgun_returned(fake_mailgun):
    delivery = sent_email()
    [request] = fake_mailgun.requests
    assert request["path"] == "/v3/mg.example.test/messages"
    assert request["headers"]["Authorization"].startswith("Basic ")
    form = parse_qs(request["body"].decode())
    assert form["to"] == [delivery.recipient]
    assert form["h:Message-Id"] == [delivery.message_id]
    assert delivery.provider_message_id == "<20260101000000.1.ABCDEF0001@mg.example.test>"
    assert delivery.state == Delivery.State.SENT
    attempt = delivery.attempts.get()
    assert attempt.outcome == DeliveryAttempt.Outcome.SENT and attempt.smtp_code is None


def test_mailgun_busy_is_retried_and_a_refused_message_fails_for_good(fake_mailgun):
    fake_mailgun.script = [(503, {"message": "busy"}), (429, {"message": "slow down"})]
    delivery = proposal_email()
    assert delivery_execute(delivery.pk) == "failed_retrying"
    assert delivery_execute(delivery.pk) == "failed_retrying"
    assert delivery_execute(delivery.pk) == "sent"
    other = proposal_email()
    fake_mailgun.script = [(400, {"message": "'to' parameter is not a valid address"})]
    assert delivery_execute(other.pk) == "failed_permanent"
    other.refresh_from_db()
    assert other.last_error == "email service refused the message (HTTP 400)"


def test_mailgun_rejecting_our_key_is_retried_not_blamed_on_the_recipient(fake_mailgun):
    fake_mailgun.script = [(401, {"message": "Invalid private key"})]
    delivery = proposal_email()
    assert delivery_execute(delivery.pk) == "failed_retrying"
    delivery.refresh_from_db()
    assert delivery.last_error == "email service rejected our credentials"


# --- bounces -------------------------------------------------------------------------------


def test_a_hard_bounce_marks_the_delivery_bounced_with_the_reason_and_suppresses(
    client, smtp_server, mailgun_webhooks
):
    delivery = sent_email()
    response = bounce(client, delivery)
    assert response.status_code == 200
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.BOUNCED
    assert delivery.bounced_at is not None
    assert delivery.bounce_reason.startswith("5.1.1 The email account that you tried to reach")
    assert "\n" not in delivery.bounce_reason
    [activity] = Activity.objects.filter(kind=Activity.Kind.DELIVERY_BOUNCED)
    assert activity.proposal_id == delivery.proposal_id
    assert activity.details["reason"] == delivery.bounce_reason
    assert activity.details["suppressed"] is True
    [suppression] = Suppression.objects.all()
    assert (suppression.business_id, suppression.address) == (
        delivery.business_id,
        delivery.recipient.lower(),
    )
    assert suppression.reason == Suppression.Reason.BOUNCED and suppression.active
    [event] = DeliveryEvent.objects.all()
    assert (event.delivery_id, event.event_type, event.esp) == (delivery.pk, "bounced", "Mailgun")


@pytest.mark.parametrize("replay_cache", ["kept", "lost"])
def test_the_same_webhook_twice_changes_nothing(
    client, smtp_server, mailgun_webhooks, replay_cache
):
    from django.core.cache import cache

    delivery = sent_email()
    payload = mailgun.sign(mailgun.bounced(delivery.provider_message_id, delivery.recipient))
    assert mailgun.post(client, payload).status_code == 200
    delivery.refresh_from_db()
    before = (delivery.state, delivery.bounced_at, delivery.updated_at)
    if replay_cache == "lost":
        cache.clear()  # e.g. a Redis restart: the stored event (its id is the token) still holds
    # Refused as a replay (its token was seen); without the cache, acknowledged as a duplicate.
    assert mailgun.post(client, payload).status_code == (400 if replay_cache == "kept" else 200)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.bounced_at, delivery.updated_at) == before
    assert DeliveryEvent.objects.count() == 1
    assert Activity.objects.filter(kind=Activity.Kind.DELIVERY_BOUNCED).count() == 1
    assert Suppression.objects.count() == 1


def test_a_second_bounce_event_for_the_same_email_keeps_one_timeline_entry(
    client, smtp_server, mailgun_webhooks
):
    delivery = sent_email()
    assert bounce(client, delivery).status_code == 200
    assert bounce(client, delivery).status_code == 200  # a new token: another event
    assert DeliveryEvent.objects.count() == 2
    assert Activity.objects.filter(kind=Activity.Kind.DELIVERY_BOUNCED).count() == 1
    assert Suppression.objects.count() == 1


def test_a_temporary_failure_is_recorded_and_changes_nothing_else(
    client, smtp_server, mailgun_webhooks
):
    delivery = sent_email()
    payload = mailgun.bounced(
        delivery.provider_message_id, delivery.recipient, severity="temporary"
    )
    assert mailgun.post(client, mailgun.sign(payload)).status_code == 200
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.SENT and delivery.bounced_at is None
    assert DeliveryEvent.objects.get().event_type == DeliveryEvent.Type.DEFERRED
    assert not Suppression.objects.exists()


def test_a_delivered_event_is_recorded(client, smtp_server, mailgun_webhooks):
    delivery = sent_email()
    payload = mailgun.sign(mailgun.delivered(delivery.provider_message_id, delivery.recipient))
    assert mailgun.post(client, payload).status_code == 200
    delivery.refresh_from_db()
    assert delivery.delivered_at is not None and delivery.state == Delivery.State.SENT
    assert DeliveryEvent.objects.get().event_type == DeliveryEvent.Type.DELIVERED
    assert not Suppression.objects.exists()


def test_a_complaint_suppresses_the_address(client, smtp_server, mailgun_webhooks):
    delivery = sent_email()
    payload = mailgun.sign(mailgun.complained(delivery.provider_message_id, delivery.recipient))
    assert mailgun.post(client, payload).status_code == 200
    delivery.refresh_from_db()
    assert delivery.complained_at is not None
    assert Suppression.objects.get().reason == Suppression.Reason.COMPLAINED
    assert Activity.objects.filter(kind=Activity.Kind.DELIVERY_COMPLAINED).count() == 1


def test_a_bounce_of_an_email_sent_through_mailgun_finds_it_by_mailguns_id(
    client, fake_mailgun, mailgun_webhooks
):
    delivery = sent_email()
    assert delivery.provider_message_id != delivery.message_id
    assert bounce(client, delivery).status_code == 200
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.BOUNCED


def test_the_id_is_known_from_the_attempt_on_before_any_outcome(smtp_server):
    smtp_server.data_script = ["421 4.3.2 Busy"]
    delivery = proposal_email()
    assert delivery_execute(delivery.pk) == "failed_retrying"
    delivery.refresh_from_db()
    assert delivery.provider_message_id == delivery.message_id != ""


def test_an_event_while_the_email_is_being_sent_is_refused_for_now_then_applied(
    client, smtp_server, mailgun_webhooks
):
    delivery = sent_email()
    # As during a batch: the server took the email, the drain has not written "sent" yet.
    Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.State.SENDING)
    payload = mailgun.sign(mailgun.bounced(delivery.provider_message_id, delivery.recipient))
    response = mailgun.post(client, payload)
    assert response.status_code == 409
    assert response.json()["code"] == "delivery_in_progress"
    assert not DeliveryEvent.objects.exists() and not Suppression.objects.exists()
    Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.State.SENT)
    assert mailgun.post(client, payload).status_code == 200  # the service's retry
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.BOUNCED
    assert Suppression.objects.count() == 1


# --- suppression across sends --------------------------------------------------------------


def test_a_later_email_to_a_suppressed_address_fails_at_once_without_the_mail_server(
    client, smtp_server, mailgun_webhooks
):
    business = BusinessFactory()
    first = sent_email(business=business, email="Gone@Example.org")
    assert bounce(client, first).status_code == 200
    later = proposal_email(business=business, email="gone@example.ORG")
    received = len(smtp_server.received)
    assert delivery_execute(later.pk) == "suppressed"
    later.refresh_from_db()
    assert later.state == Delivery.State.FAILED_PERMANENT
    assert "address suppressed" in later.last_error and "bounced" in later.last_error
    assert not later.attempts.exists()
    assert smtp_server.data_commands == received == 1
    failed = Activity.objects.get(proposal_id=later.proposal_id, kind=Activity.Kind.DELIVERY_FAILED)
    assert failed.details["reason"] == later.last_error


def test_a_suppression_in_one_business_never_blocks_another(client, smtp_server, mailgun_webhooks):
    first = sent_email(email="shared@example.org")
    assert bounce(client, first).status_code == 200
    elsewhere = proposal_email(email="shared@example.org")
    assert elsewhere.business_id != first.business_id
    assert delivery_execute(elsewhere.pk) == "sent"
    assert len(smtp_server.to("shared@example.org")) == 2


def test_a_batch_checks_its_suppressions_in_one_query(smtp_server, django_assert_num_queries):
    from proposals.delivery.suppressions import suppressed_for

    rows = [proposal_email() for _ in range(5)]
    Suppression.objects.create(
        business_id=rows[0].business_id, address=rows[0].recipient, reason="bounced"
    )
    with django_assert_num_queries(1):
        found = suppressed_for(rows)
    assert list(found) == [(rows[0].business_id, rows[0].recipient.lower())]
