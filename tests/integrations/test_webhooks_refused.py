"""Signed Wix webhooks: forged, malformed, stale, oversized or impossible ones are refused with
a 4xx and recorded as rejected, never processed."""

import base64
import hashlib
import hmac
import json
import time
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django_q.models import OrmQ
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.models import Business
from common import ratelimit
from integrations.models import WebhookReceipt
from integrations.wix.standin.webhooks import DEV_PUBLIC_KEY, sign_webhook, webhook_claims
from tests.integrations.webhook_bodies import INSTANCE_ID, URL, _signed_envelope, signed


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hand_made_jwt(header: dict, claims: dict, signature: bytes = b"") -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(signature)}"


def _other_private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _hs256_signed_with_public_key() -> str:
    claims = webhook_claims(event_type="AppInstalled", instance_id=INSTANCE_ID)
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = hand_made_jwt(header, claims).rsplit(".", 1)[0]
    digest = hmac.new(DEV_PUBLIC_KEY.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(digest)}"


def _tampered() -> str:
    header, _, signature = signed().split(".")
    forged = webhook_claims(event_type="AppRemoved", instance_id=INSTANCE_ID)
    return f"{header}.{b64(json.dumps(forged).encode())}.{signature}"


def _claims_with(**overrides) -> dict:
    claims = webhook_claims(event_type="AppInstalled", instance_id=INSTANCE_ID)
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


FORGED = {
    "alg_none": (
        lambda: hand_made_jwt({"alg": "none", "typ": "JWT"}, _claims_with()),
        "algorithm_not_allowed",
    ),
    "hs256_with_public_key": (_hs256_signed_with_public_key, "algorithm_not_allowed"),
    "expired": (
        lambda: signed(issued_at=int(time.time()) - 7200, expires_in=3600),
        "expired",
    ),
    "not_yet_valid": (
        lambda: sign_webhook(_claims_with(nbf=int(time.time()) + 3600)),
        "not_yet_valid",
    ),
    "issued_in_the_future": (
        lambda: signed(issued_at=int(time.time()) + 3600),
        "not_yet_valid",
    ),
    "wrong_key": (
        lambda: sign_webhook(
            webhook_claims(event_type="AppInstalled", instance_id=INSTANCE_ID),
            private_key=_other_private_key(),
        ),
        "bad_signature",
    ),
    "tampered": (_tampered, "bad_signature"),
    "not_a_jwt": (lambda: "hello wix", "not_a_jwt"),
    "binary": (lambda: b"\xff\xfe\x00.\x01.\x02", "not_a_jwt"),
    "missing_data_claim": (lambda: sign_webhook(_claims_with(data=None)), "missing_claim_data"),
    "data_not_json": (lambda: sign_webhook(_claims_with(data="{nope")), "malformed_data_claim"),
    "no_instance": (
        lambda: sign_webhook(_claims_with(data=json.dumps({"eventType": "AppInstalled"}))),
        "missing_instance_id",
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("variant", sorted(FORGED))
def test_a_forged_or_malformed_webhook_is_refused_and_recorded(post, variant, log_events):
    make_body, reason = FORGED[variant]
    response = post(make_body())
    assert 400 <= response.status_code < 500
    assert response.json()["error"] == reason
    receipt = WebhookReceipt.objects.get()
    assert receipt.status == WebhookReceipt.Status.REJECTED
    assert not receipt.verified
    assert receipt.rejected_reason == reason
    assert not Business.objects.exists()
    assert not OrmQ.objects.exists()
    assert any(e["event"] == "wix_webhook_rejected" and e["reason"] == reason for e in log_events)


@pytest.mark.django_db
def test_an_oversized_body_is_refused_without_being_stored(post, settings):
    settings.WIX_WEBHOOK_MAX_BYTES = 2048
    response = post("a" * 5000)
    assert response.status_code == 413
    receipt = WebhookReceipt.objects.get()
    assert receipt.rejected_reason == "body_too_large"
    assert receipt.body_size == 5000
    assert receipt.raw_excerpt == ""


@pytest.mark.django_db
def test_a_flood_of_junk_is_refused_but_not_all_stored(post, settings, log_events):
    settings.WIX_WEBHOOK_REJECTED_PER_MINUTE = 2
    statuses = [post("junk").status_code for _ in range(5)]
    assert statuses == [400] * 5
    assert WebhookReceipt.objects.count() == 2
    rejected = [e for e in log_events if e["event"] == "wix_webhook_rejected"]
    assert [e["stored"] for e in rejected] == [True, True, False, False, False]


@pytest.mark.django_db
def test_rejections_are_stored_again_in_the_next_minute(post, settings, monkeypatch):
    now = {"t": 60 * 29_000_000 + 30.0}
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: now["t"]))
    settings.WIX_WEBHOOK_REJECTED_PER_MINUTE = 1
    assert [post("junk").status_code for _ in range(3)] == [400] * 3
    assert WebhookReceipt.objects.count() == 1

    now["t"] += 30  # the next minute

    assert post("junk").status_code == 400
    assert WebhookReceipt.objects.count() == 2


@pytest.mark.django_db
def test_no_rejection_is_stored_when_the_limit_is_zero(post, settings):
    settings.WIX_WEBHOOK_REJECTED_PER_MINUTE = 0
    assert post("junk").status_code == 400
    assert not WebhookReceipt.objects.exists()


@pytest.mark.django_db
def test_only_post_is_accepted(client):
    assert client.get(URL).status_code == 405


@given(body=st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
@hypothesis_settings(max_examples=300, deadline=None)
def test_any_body_is_either_verified_or_rejected_with_a_reason(body):
    from integrations.wix.webhooks import WebhookRejected, verify

    with pytest.raises(WebhookRejected) as raised:
        verify(body)
    assert 400 <= raised.value.status < 500


@pytest.mark.django_db
def test_a_webhook_signed_more_than_72_hours_ago_is_refused_as_stale(post):
    long_lived = 100 * 3600
    old = signed(issued_at=int(time.time()) - 73 * 3600, expires_in=long_lived)
    response = post(old)
    assert response.status_code == 401
    assert response.json()["error"] == "stale"
    receipt = WebhookReceipt.objects.get()
    assert receipt.status == WebhookReceipt.Status.REJECTED
    assert receipt.rejected_reason == "stale"
    assert not OrmQ.objects.exists()
    assert not Business.objects.exists()
    # Within Wix's retry window (about 47 hours) a delivery is still accepted.
    recent = signed(issued_at=int(time.time()) - 71 * 3600, expires_in=long_lived)
    assert post(recent).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("declared", ["²", "١٢", "12a", "-1", " 12"])
def test_a_hostile_content_length_is_refused_not_a_server_error(client, declared):
    response = client.post(URL, data=signed(), content_type="text/plain", CONTENT_LENGTH=declared)
    assert response.status_code == 413
    assert WebhookReceipt.objects.get().rejected_reason == "body_too_large"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (lambda: signed(event_type="App\x00Installed"), "missing_event_type"),
        (lambda: signed(instance_id="inst\x00ance"), "missing_instance_id"),
        (lambda: signed(data={"note": "nul \x00 inside"}), "nul_in_payload"),
        (lambda: signed(data={"k\x00ey": 1}), "nul_in_payload"),
        (lambda: _signed_envelope(metadata="not an object"), "malformed_metadata"),
        (lambda: _signed_envelope(metadata=["a", "list"]), "malformed_metadata"),
        (lambda: signed(data={"operationTimeStamp": "2026-13-45T10:00:00Z"}), "bad_timestamp"),
        (lambda: signed(data={"operationTimeStamp": "0001-01-01T00:00:00+23:00"}), "bad_timestamp"),
    ],
    ids=[
        "nul-event-type",
        "nul-instance-id",
        "nul-in-data",
        "nul-in-a-key",
        "metadata-string",
        "metadata-list",
        "impossible-date",
        "before-the-calendar",
    ],
)
def test_a_validly_signed_but_impossible_webhook_is_a_4xx_stored_as_rejected(post, body, reason):
    response = post(body())
    assert response.status_code == 400
    receipt = WebhookReceipt.objects.get()
    assert receipt.status == WebhookReceipt.Status.REJECTED
    assert receipt.rejected_reason == reason
    assert not Business.objects.exists()
