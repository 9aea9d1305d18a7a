"""Mailgun's tracking webhook: what it refuses or shrugs off (bad signatures, replays,
unreadable or unknown events, missing keys), what it never logs, and the same event twice at
once."""

import json

import pytest
import structlog

from proposals.models import Activity, Delivery, DeliveryEvent, Suppression
from tests.proposals import mailgun
from tests.proposals.bounced_emails import bounce, sent_email

pytestmark = pytest.mark.django_db


# --- what the webhook refuses or shrugs off ------------------------------------------------


def test_a_bad_signature_is_refused_and_changes_nothing(client, smtp_server, mailgun_webhooks):
    delivery = sent_email()
    payload = mailgun.bounced(delivery.provider_message_id, delivery.recipient)
    response = mailgun.post(client, mailgun.sign(payload, key="not-the-key"))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_webhook"
    assert mailgun.post(client, payload).status_code == 400  # no signature at all
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.SENT
    assert not DeliveryEvent.objects.exists() and not Suppression.objects.exists()


# --- replays: the signature is valid forever, the request is not -----------------------------


def test_a_captured_request_replayed_is_refused_changes_nothing_and_logs_no_email(
    client, smtp_server, mailgun_webhooks
):
    delivery = sent_email(email="private.person@example.org")
    captured = mailgun.sign(mailgun.delivered(delivery.provider_message_id, delivery.recipient))
    assert mailgun.post(client, captured).status_code == 200
    Delivery.objects.filter(pk=delivery.pk).update(delivered_at=None)
    DeliveryEvent.objects.all().delete()  # as if the event were long gone: the request alone
    with structlog.testing.capture_logs() as logs:
        response = mailgun.post(client, captured)
    assert response.status_code == 400
    assert response.json()["code"] == "webhook_replayed"
    delivery.refresh_from_db()
    assert delivery.delivered_at is None and not DeliveryEvent.objects.exists()
    [refused] = [entry for entry in logs if entry["event"] == "email_webhook_refused"]
    assert (refused["why"], refused["log_level"]) == ("token_reused", "warning")
    assert "private.person" not in repr(logs)


def test_the_default_window_outlasts_mailguns_eight_hours_of_retries():
    from django.conf import settings

    # Mailgun re-sends an event we did not take for 8 hours; a retry of our outage must pass.
    assert settings.MAILGUN_WEBHOOK_MAX_AGE_SECONDS > 8 * 3600


@pytest.mark.parametrize(
    ("signed_ago", "status"),
    [(880, 200), (920, 400), (-50, 200), (-70, 400)],
    ids=["just-in-window", "too-old", "small-skew", "from-the-future"],
)
def test_a_request_signed_outside_the_window_is_refused(
    client, smtp_server, mailgun_webhooks, signed_ago, status
):
    import time

    mailgun_webhooks.MAILGUN_WEBHOOK_MAX_AGE_SECONDS = 900  # a short window, for the test
    delivery = sent_email()
    event = mailgun.bounced(delivery.provider_message_id, delivery.recipient)
    with structlog.testing.capture_logs() as logs:
        response = mailgun.post(client, mailgun.sign(event, at=time.time() - signed_ago))
    assert response.status_code == status
    delivery.refresh_from_db()
    if status == 400:
        assert response.json()["code"] == "webhook_replayed"
        assert delivery.state == Delivery.State.SENT
        assert not DeliveryEvent.objects.exists() and not Suppression.objects.exists()
        [refused] = [entry for entry in logs if entry["event"] == "email_webhook_refused"]
        assert refused["why"] == ("stale" if signed_ago > 0 else "future")
    else:
        assert delivery.state == Delivery.State.BOUNCED


def test_the_window_is_a_setting(client, smtp_server, mailgun_webhooks):
    import time

    mailgun_webhooks.MAILGUN_WEBHOOK_MAX_AGE_SECONDS = 60
    delivery = sent_email()
    event = mailgun.delivered(delivery.provider_message_id, delivery.recipient)
    assert mailgun.post(client, mailgun.sign(event, at=time.time() - 120)).status_code == 400


def _non_ascii_timestamp():
    payload = mailgun.sign(mailgun.delivered("<x@y>", "a@example.org"))
    payload["signature"]["timestamp"] = "١٢٣"
    return payload


def _signed_with(event_data):
    return mailgun.sign({"event-data": event_data})


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        b"\xff\xfe",
        "[1, 2]",
        json.dumps({"signature": ["a", "b"]}),
        json.dumps({"signature": {"timestamp": 1, "token": None, "signature": "x"}}),
        _non_ascii_timestamp(),
        _signed_with({"timestamp": 1}),  # no "event"
        _signed_with("a string"),
        _signed_with({"event": "delivered", "timestamp": "yesterday"}),
        _signed_with({"event": "delivered", "message": {"headers": "nope"}}),
        _signed_with({"event": ["delivered"]}),
        _signed_with({"event": "delivered", "timestamp": 1e20}),
        '{"signature": {"timestamp": 1e400, "token": "t", "signature": "s"}}',
    ],
    ids=range(13),
)
def test_unreadable_payloads_are_a_4xx_never_a_5xx(client, mailgun_webhooks, payload):
    response = mailgun.post(client, payload)
    assert 400 <= response.status_code < 500
    assert not DeliveryEvent.objects.exists()


def test_control_characters_in_a_signed_event_never_reach_the_database(
    client, smtp_server, mailgun_webhooks
):
    delivery = sent_email()
    payload = mailgun.bounced(delivery.provider_message_id, delivery.recipient)
    payload["event-data"]["delivery-status"]["message"] = "550\x00 no\x00 such user"
    response = mailgun.post(client, mailgun.sign(payload, token="tok\x00en"))
    assert response.status_code == 200
    event = DeliveryEvent.objects.get()
    assert event.event_id == "token" and event.mta_response == "550 no such user"


def test_an_event_for_an_unknown_message_is_acknowledged_and_logged(client, mailgun_webhooks):
    payload = mailgun.sign(mailgun.bounced("<nobody.knows@example.test>", "who@example.org"))
    with structlog.testing.capture_logs() as logs:
        response = mailgun.post(client, payload)
    assert response.status_code == 200
    [unknown] = [e for e in logs if e["event"] == "delivery_event_unknown_message"]
    assert unknown["message_id"] == "<nobody.knows@example.test>"
    assert not DeliveryEvent.objects.exists() and not Suppression.objects.exists()


def test_a_signed_event_without_a_message_id_is_acknowledged(client, mailgun_webhooks):
    payload = mailgun.sign({"event-data": {"event": "delivered", "timestamp": 1534108637.1}})
    assert mailgun.post(client, payload).status_code == 200


def test_events_we_do_not_act_on_are_acknowledged(client, smtp_server, mailgun_webhooks):
    delivery = sent_email()
    payload = mailgun.delivered(delivery.provider_message_id, delivery.recipient)
    payload["event-data"]["event"] = "opened"
    assert mailgun.post(client, mailgun.sign(payload)).status_code == 200
    assert not DeliveryEvent.objects.exists()


def test_without_a_signing_key_the_webhook_does_not_exist(client, settings):
    settings.ANYMAIL = {k: v for k, v in settings.ANYMAIL.items() if "SIGNING" not in k}
    response = mailgun.post(client, mailgun.sign(mailgun.delivered("<x@y>", "a@example.org")))
    assert response.status_code == 404


def test_basic_auth_is_checked_when_a_webhook_secret_is_set(client, smtp_server, mailgun_webhooks):
    import base64

    mailgun_webhooks.ANYMAIL = {**mailgun_webhooks.ANYMAIL, "WEBHOOK_SECRET": "mg:s3cret"}
    delivery = sent_email()
    payload = mailgun.sign(mailgun.delivered(delivery.provider_message_id, delivery.recipient))
    assert mailgun.post(client, payload).status_code == 400
    auth = "Basic " + base64.b64encode(b"mg:s3cret").decode()
    assert mailgun.post(client, payload, HTTP_AUTHORIZATION=auth).status_code == 200


def test_no_email_address_reaches_the_logs(client, smtp_server, mailgun_webhooks):
    delivery = sent_email(email="private.person@example.org")
    with structlog.testing.capture_logs() as logs:
        bounce(client, delivery)
        payload = mailgun.sign(mailgun.complained(delivery.provider_message_id, delivery.recipient))
        mailgun.post(client, payload)
        mailgun.post(client, mailgun.sign(mailgun.bounced("<unknown@x>", delivery.recipient)))
    assert logs
    assert "private.person" not in repr(logs)


# --- settings and races --------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["MAILGUN_API_KEY", "MAILGUN_WEBHOOK_SIGNING_KEY"])
def test_production_with_mailgun_refuses_to_start_without_its_keys(missing):
    from tests.common.test_settings_env import PRODUCTION, load_settings

    mailgun_env = {
        "EMAIL_BACKEND": "anymail.backends.mailgun.EmailBackend",
        "MAILGUN_API_KEY": "key-123",
        "MAILGUN_WEBHOOK_SIGNING_KEY": "signing-123",
    }
    assert load_settings({**PRODUCTION, **mailgun_env}).returncode == 0
    result = load_settings({**PRODUCTION, **{k: v for k, v in mailgun_env.items() if k != missing}})
    assert result.returncode != 0
    assert missing in result.stderr


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("replay_cache", ["shared", "none"])
def test_the_same_webhook_twice_at_once_is_applied_once(
    smtp_server, mailgun_webhooks, replay_cache
):
    import threading

    from django.db import connection
    from django.test import Client as DjangoClient

    if replay_cache == "none":
        # No replay guard (a cache that keeps nothing): the database's own race is what counts.
        mailgun_webhooks.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
        }
    delivery = sent_email()
    payload = mailgun.sign(mailgun.bounced(delivery.provider_message_id, delivery.recipient))
    statuses, start = [], threading.Barrier(2)

    def post():
        try:
            start.wait()
            statuses.append(mailgun.post(DjangoClient(), payload).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # With the guard the second is refused as a replay of the first; without it, a duplicate.
    assert sorted(statuses) == ([200, 400] if replay_cache == "shared" else [200, 200])
    assert DeliveryEvent.objects.count() == 1
    assert Suppression.objects.count() == 1
    assert Activity.objects.filter(kind=Activity.Kind.DELIVERY_BOUNCED).count() == 1
