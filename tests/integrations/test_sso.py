"""Dashboard SSO from Wix's signed ``instance`` parameter, and who may frame the dashboard."""

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.models import Business, Membership
from integrations.models import WixUserLink
from integrations.wix.sso import b64url_encode, sign_instance
from tests.accounts.factories import BusinessFactory
from tests.integrations.conftest import queued_tasks

SECRET = "sso-test-secret"
DASHBOARD = "/app/"


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.WIX_APP_SECRET = SECRET
    settings.WIX_INSTANCE_MAX_AGE = 300


def instance_payload(instance_id: str, **overrides) -> dict:
    payload = {
        "instanceId": instance_id,
        "appDefId": "app",
        "signDate": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "uid": "0f1e2d3c-aaaa-4bbb-8ccc-000000000001",
        "permissions": "OWNER",
        "siteOwnerId": "0f1e2d3c-aaaa-4bbb-8ccc-000000000001",
    }
    payload.update(overrides)
    return payload


def open_dashboard(client, instance: str):
    return client.get(DASHBOARD, {"instance": instance})


@pytest.mark.django_db
def test_a_valid_instance_signs_the_owner_in_to_that_business(
    client, django_capture_on_commit_callbacks
):
    business = BusinessFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = open_dashboard(
            client, sign_instance(instance_payload(business.instance_id), secret=SECRET)
        )
    # Signed in, then sent to the same page without the signed value.
    assert response.status_code == 302
    assert response["Location"] == DASHBOARD
    assert client.get(response["Location"]).wsgi_request.business == business
    assert client.session["business_id"] == business.pk
    link = WixUserLink.objects.get()
    assert int(client.session[SESSION_KEY]) == link.user_id
    membership = Membership.objects.get(user=link.user, business=business)
    assert membership.role == Membership.Role.OWNER
    # A second visit reuses the same user.
    open_dashboard(client, sign_instance(instance_payload(business.instance_id), secret=SECRET))
    assert WixUserLink.objects.count() == 1


@pytest.mark.django_db
def test_a_first_visit_before_the_install_webhook_creates_the_business(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        open_dashboard(
            client, sign_instance(instance_payload("brand-new-instance-0001"), secret=SECRET)
        )
    business = Business.objects.get(instance_id="brand-new-instance-0001")
    assert business.is_active
    assert client.session["business_id"] == business.pk
    # Its site details are fetched from Wix in the background.
    assert [(t["func"], t["args"]) for t in queued_tasks()] == [
        ("integrations.tasks.refresh_business", (business.pk,))
    ]


@pytest.mark.django_db
def test_a_collaborator_gets_a_member_role(client):
    business = BusinessFactory()
    payload = instance_payload(business.instance_id, permissions="", uid="collab-0001")
    open_dashboard(client, sign_instance(payload, secret=SECRET))
    assert Membership.objects.get(business=business).role == Membership.Role.MEMBER


@pytest.mark.django_db
def test_an_existing_account_with_the_owner_email_is_never_taken_over(client):
    from tests.accounts.factories import UserFactory

    victim = UserFactory(email="owner@example.com")
    business = BusinessFactory(owner_email="owner@example.com")
    open_dashboard(client, sign_instance(instance_payload(business.instance_id), secret=SECRET))
    assert int(client.session[SESSION_KEY]) != victim.pk


def _forged(instance_id: str) -> str:
    return sign_instance(instance_payload(instance_id), secret="not-the-app-secret")


def _tampered(instance_id: str) -> str:
    signature, _ = sign_instance(instance_payload(instance_id), secret=SECRET).split(".")
    data = b64url_encode(json.dumps(instance_payload("someone-else-0001")).encode())
    return f"{signature}.{data}"


def _stale(instance_id: str) -> str:
    old = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    return sign_instance(instance_payload(instance_id, signDate=old), secret=SECRET)


def _future(instance_id: str) -> str:
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    return sign_instance(instance_payload(instance_id, signDate=later), secret=SECRET)


def _padded(instance_id: str) -> str:
    return sign_instance(instance_payload(instance_id), secret=SECRET).replace(".", "=.", 1)


REFUSED = {
    "forged": _forged,
    "tampered": _tampered,
    "stale": _stale,
    "signed_in_the_future": _future,
    "no_sign_date": lambda i: sign_instance(
        {k: v for k, v in instance_payload(i).items() if k != "signDate"}, secret=SECRET
    ),
    "padded_base64": _padded,
    "empty": lambda i: "",
    "no_dot": lambda i: "abc",
    "garbage": lambda i: "!!!.???",
    "huge": lambda i: "a" * 5000 + ".b",
}


@pytest.mark.django_db
@pytest.mark.parametrize("variant", sorted(REFUSED))
def test_a_forged_or_stale_instance_is_refused_without_a_session(client, variant, log_events):
    business = BusinessFactory()
    response = open_dashboard(client, REFUSED[variant](business.instance_id))
    assert response.status_code == 403
    assert SESSION_KEY not in client.session
    assert "business_id" not in client.session
    assert not WixUserLink.objects.exists()
    assert Business.objects.count() == 1
    assert any(e["event"] == "wix_sso_refused" for e in log_events)


@pytest.mark.django_db
def test_a_forged_instance_is_refused_even_for_a_signed_in_user(owner_client):
    response = open_dashboard(owner_client, _forged("x-instance-0001"))
    assert response.status_code == 403


@pytest.mark.django_db
def test_the_dashboard_may_be_framed_by_wix_only(client):
    response = client.get(DASHBOARD)
    policy = response["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://*.wix.com" in policy
    assert "X-Frame-Options" not in response
    elsewhere = client.get("/healthz")
    assert elsewhere["X-Frame-Options"] == "DENY"
    assert "frame-ancestors" not in elsewhere.get("Content-Security-Policy", "")


@pytest.mark.django_db
def test_an_instance_for_another_user_asks_before_switching_the_session(owner_client, business):
    """Login CSRF: a link signed for someone else's site never replaces a session silently."""
    other = BusinessFactory(site_name="Someone Else's Site")
    instance = sign_instance(instance_payload(other.instance_id), secret=SECRET)
    assert owner_client.get(DASHBOARD).wsgi_request.business == business
    signed_in_as = owner_client.session[SESSION_KEY]

    response = open_dashboard(owner_client, instance)

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    page = response.content.decode()
    assert "Switch account?" in page
    assert "Someone Else&#x27;s Site" in page
    assert owner_client.session[SESSION_KEY] == signed_in_as
    assert owner_client.get(DASHBOARD).wsgi_request.business == business

    # Only the page's own answer switches.
    response = owner_client.post("/app/sso/switch", {"instance": instance})
    assert response.status_code == 303
    assert response["Location"] == DASHBOARD
    assert int(owner_client.session[SESSION_KEY]) == WixUserLink.objects.get().user_id
    assert owner_client.session["business_id"] == other.pk
    assert owner_client.get(DASHBOARD).wsgi_request.business == other


@pytest.mark.django_db
def test_a_forged_switch_answer_changes_nothing(owner, business):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    session = browser.session
    session["business_id"] = business.pk
    session.save()
    other = BusinessFactory()
    instance = sign_instance(instance_payload(other.instance_id), secret=SECRET)

    response = browser.post("/app/sso/switch", {"instance": instance})  # no CSRF token

    assert response.status_code == 403
    assert int(browser.session[SESSION_KEY]) == owner.pk
    assert browser.session["business_id"] == business.pk


@pytest.mark.django_db
def test_a_forged_instance_in_the_switch_answer_is_refused(owner_client, owner):
    response = owner_client.post("/app/sso/switch", {"instance": _forged("x-instance-0002")})
    assert response.status_code == 403
    assert int(owner_client.session[SESSION_KEY]) == owner.pk


@pytest.mark.django_db
def test_the_same_wix_user_opening_another_of_their_sites_switches_business_at_once(client):
    first, second = BusinessFactory(), BusinessFactory()
    open_dashboard(client, sign_instance(instance_payload(first.instance_id), secret=SECRET))
    response = open_dashboard(
        client, sign_instance(instance_payload(second.instance_id), secret=SECRET)
    )
    assert response.status_code == 302
    assert client.session["business_id"] == second.pk


@given(value=st.text(max_size=300))
@hypothesis_settings(max_examples=300, deadline=None)
def test_any_instance_value_is_either_verified_or_refused(value):
    from integrations.wix.sso import InstanceRefused, verify_instance

    with pytest.raises(InstanceRefused):
        verify_instance(value, secret=SECRET, max_age_seconds=300)


@pytest.mark.django_db
def test_after_sign_in_the_instance_is_dropped_from_the_address(client):
    business = BusinessFactory()
    instance = sign_instance(instance_payload(business.instance_id), secret=SECRET)
    response = client.get(DASHBOARD, {"instance": instance, "locale": "en"})
    assert response.status_code == 302
    assert response["Location"] == "/app/?locale=en"
    assert instance not in response["Location"]
    assert "frame-ancestors" in response["Content-Security-Policy"]  # Wix may frame it
    assert SESSION_KEY in client.session
    assert client.session["business_id"] == business.pk
    landed = client.get(response["Location"])
    assert landed.status_code == 200
    assert landed.wsgi_request.business == business


def _membership_after_visit(client, business, **payload) -> Membership:
    open_dashboard(
        client, sign_instance(instance_payload(business.instance_id, **payload), secret=SECRET)
    )
    return Membership.objects.get(business=business, user=WixUserLink.objects.get().user)


@pytest.mark.django_db
def test_the_role_follows_what_wix_says_on_each_visit(client, log_events):
    business = BusinessFactory()
    uid = {"uid": "collab-0002", "siteOwnerId": "someone-else"}
    assert _membership_after_visit(client, business, permissions="", **uid).role == "member"
    # Ownership transferred to this user at Wix.
    assert _membership_after_visit(client, business, permissions="OWNER", **uid).role == "owner"
    # And transferred away again.
    assert _membership_after_visit(client, business, permissions="", **uid).role == "member"
    changes = [e for e in log_events if e["event"] == "wix_sso_role_changed"]
    assert [(e["old_role"], e["new_role"]) for e in changes] == [
        ("member", "owner"),
        ("owner", "member"),
    ]


@pytest.mark.django_db
def test_a_locally_granted_admin_role_is_kept_for_a_non_owner(client):
    business = BusinessFactory()
    uid = {"uid": "collab-0003", "siteOwnerId": "someone-else"}
    membership = _membership_after_visit(client, business, permissions="", **uid)
    Membership.objects.filter(pk=membership.pk).update(role=Membership.Role.ADMIN)
    assert _membership_after_visit(client, business, permissions="", **uid).role == "admin"


@pytest.mark.django_db
def test_a_broker_failure_after_the_first_visit_commits_does_not_fail_the_sign_in(
    client, django_capture_on_commit_callbacks, monkeypatch, log_events
):
    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr("django_q.tasks.async_task", broker_down)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = open_dashboard(
            client, sign_instance(instance_payload("broker-down-instance-01"), secret=SECRET)
        )
    assert len(callbacks) == 1
    assert response.status_code == 302
    assert Business.objects.get(instance_id="broker-down-instance-01").is_active
    assert SESSION_KEY in client.session
    failed = [e for e in log_events if e["event"] == "wix_business_refresh_enqueue_failed"]
    assert failed and failed[0]["error"] == "ConnectionError"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "overrides",
    [
        {"signDate": "2026-13-45T00:00:00Z"},  # impossible date
        {"signDate": "2026-02-30T10:00:00Z"},
        {"signDate": "2026-01-01T25:00:00Z"},
        {"signDate": "0001-01-01T00:00:00+23:00"},  # before the calendar in UTC
        {"signDate": 1767225600},
        {"signDate": ["2026-01-01"]},
        {"instanceId": "abc\x00def"},  # NUL: PostgreSQL text cannot hold it
        {"instanceId": "tab\tinside"},
        {"instanceId": ["list"]},
        {"uid": "user\x00id"},
    ],
    ids=lambda o: repr(o)[:40],
)
def test_a_validly_signed_but_impossible_instance_is_refused_not_a_500(client, overrides):
    instance = sign_instance(instance_payload("impossible-0001", **overrides), secret=SECRET)
    response = open_dashboard(client, instance)
    assert response.status_code == 403
    assert not Business.objects.filter(instance_id__startswith="impossible").exists()
    assert SESSION_KEY not in client.session


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"signDate": "2026-13-45T00:00:00Z"}, "bad_sign_date"),
        ({"signDate": "0001-01-01T00:00:00+23:00"}, "bad_sign_date"),
        ({"signDate": 1767225600}, "bad_sign_date"),
        ({"signDate": None}, "missing_sign_date"),
        ({"instanceId": "abc\x00def"}, "missing_instance_id"),
    ],
    ids=["impossible-date", "before-the-calendar", "number", "missing", "nul-instance-id"],
)
def test_an_impossible_instance_is_logged_with_why_it_was_refused(
    client, overrides, reason, log_events
):
    payload = instance_payload("impossible-0002", **overrides)
    payload = {k: v for k, v in payload.items() if v is not None}  # None: left out
    assert open_dashboard(client, sign_instance(payload, secret=SECRET)).status_code == 403
    [refused] = [e for e in log_events if e["event"] == "wix_sso_refused"]
    assert refused["reason"] == reason


@pytest.mark.django_db
def test_a_validly_signed_instance_nested_too_deep_is_refused_not_a_500(client):
    data = b64url_encode(
        ('{"instanceId": "deep-0001", "n": ' + "[" * 1100 + "]" * 1100 + "}").encode()
    )
    signature = hmac.new(SECRET.encode(), data.encode(), hashlib.sha256).digest()
    response = open_dashboard(client, f"{b64url_encode(signature)}.{data}")
    assert response.status_code == 403
    assert not Business.objects.exists()
