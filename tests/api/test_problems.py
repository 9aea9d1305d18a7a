"""Bad input of every kind: a 4xx problem document, and nothing changed."""

import json

import pytest
from rest_framework.test import APIClient

from proposals.models import Client, Proposal
from tests.api.conftest import bearer_client

pytestmark = pytest.mark.django_db

PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "errors", "request_id"}


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert set(body) == PROBLEM_KEYS
    assert body["status"] == status
    assert body["type"].startswith("urn:proposals:problem:")
    assert body["request_id"] == response["X-Request-ID"]
    return body


def _valid(customer):
    return {
        "client": customer.pk,
        "title": "T",
        "sections": [{"items": [{"name": "a", "unit_price": "1"}]}],
    }


def _item(**fields):
    return {"name": "a", "unit_price": "1", **fields}


def test_unknown_url_and_method_are_problems(api, draft):
    assert_problem(api.get("/api/v1/nothing-here/"), 404)
    assert_problem(api.get("/api/v1/proposals/99999999999999999999999/"), 404)
    assert_problem(api.get("/api/v1/proposals/999999/"), 404)
    response = api.put(f"/api/v1/proposals/{draft.pk}/", {}, format="json")
    assert_problem(response, 405)
    assert "PATCH" in response["Allow"]


def test_missing_or_bad_credentials_are_401_with_a_challenge(draft):
    anonymous = APIClient()
    body = assert_problem(anonymous.get("/api/v1/proposals/"), 401)
    assert body["code"] == "not_authenticated"
    assert anonymous.get("/api/v1/proposals/")["WWW-Authenticate"].startswith("Bearer")
    assert_problem(bearer_client("prk_wrong").get("/api/v1/proposals/"), 401)
    assert_problem(bearer_client("x" * 5000).get("/api/v1/proposals/"), 401)


def test_a_revoked_key_stops_working(api, api_key):
    from accounts.services import api_key_revoke

    assert api.get("/api/v1/business/").status_code == 200
    api_key_revoke(api_key=api_key[0], acting_user=None)
    assert_problem(api.get("/api/v1/business/"), 401)


def test_an_uninstalled_business_is_refused(api, business):
    business.status = "uninstalled"
    business.save()
    assert_problem(api.get("/api/v1/business/"), 403)


def test_malformed_json_is_400(api, customer):
    response = api.post("/api/v1/proposals/", '{"client": ', content_type="application/json")
    assert assert_problem(response, 400)["code"] == "parse_error"
    assert not Proposal.objects.exists()


def test_json_nested_too_deeply_is_400(api, customer):
    body = "[" * 50_000 + "]" * 50_000
    response = api.post("/api/v1/proposals/", body, content_type="application/json")
    assert assert_problem(response, 400)["code"] == "parse_error"
    assert not Proposal.objects.exists()


def test_wrong_content_type_is_415(api, customer):
    response = api.post("/api/v1/proposals/", {"client": customer.pk}, format="multipart")
    assert_problem(response, 415)
    response = api.post("/api/v1/proposals/", "client=1", content_type="text/plain")
    assert_problem(response, 415)
    assert not Proposal.objects.exists()


def test_unacceptable_accept_header_is_406(api):
    assert_problem(api.get("/api/v1/business/", HTTP_ACCEPT="text/html"), 406)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"sections": [{"title": "s", "items": [_item(secret=1)]}]}, "sections[0].items[0].secret"),
        ({"sections": [{"items": [_item(unit_price="1e400")]}]}, "sections[0].items[0].unit_price"),
        ({"sections": [{"items": [_item(unit_price=10**30)]}]}, "sections[0].items[0].unit_price"),
        ({"sections": [{"items": [_item(quantity="-1")]}]}, "sections[0].items[0].quantity"),
        ({"sections": [{"items": [_item(quantity="NaN")]}]}, "sections[0].items[0].quantity"),
        (
            {"sections": [{"items": [_item(unit_price="0.00001")]}]},
            "sections[0].items[0].unit_price",
        ),
        (
            {"sections": [{"items": [_item(discount_percent="101")]}]},
            "sections[0].items[0].discount_percent",
        ),
        ({"sections": [{"items": [_item(tax_rate=-5)]}]}, "sections[0].items[0].tax_rate"),
        ({"sections": [{"items": [_item(optional="maybe")]}]}, "sections[0].items[0].optional"),
        ({"sections": "lots"}, "sections"),
        ({"sections": [{"items": [_item()] * 301}]}, "sections[0].items"),
        ({"currency": "XXX"}, "currency"),
        ({"currency": "usd "}, "currency"),
        ({"title": "x" * 1_000_000}, "title"),
        ({"intro": "x" * 1_000_000}, "intro"),
        ({"title": "nul\x00byte"}, "title"),
        ({"title": ["a list"]}, "title"),
        ({"client": "1; DROP TABLE"}, "client"),
        ({"client": 10**30}, "client"),
        ({"valid_until": "2026-02-30"}, "valid_until"),
        ({"valid_until": "9999-12-31"}, "valid_until"),
    ],
)
def test_bad_input_is_400_with_field_errors_and_changes_nothing(api, customer, change, field):
    body = {**_valid(customer), **change}

    response = api.post("/api/v1/proposals/", body, format="json")

    problem = assert_problem(response, 400)
    assert field in problem["errors"], problem["errors"]
    assert not Proposal.objects.exists()


def test_huge_integers_and_nan_in_raw_json_are_400(api, customer):
    for raw in (
        '{"client": %s}' % ("9" * 5000),
        '{"client": NaN}',
        '{"client": 1, "sections": [{"items": [{"name": "a", "unit_price": Infinity}]}]}',
    ):
        response = api.post("/api/v1/proposals/", raw, content_type="application/json")
        assert_problem(response, 400)
    lone_surrogate = f'{{"client": {customer.pk}, "title": "lone \\ud800 surrogate"}}'
    response = api.post("/api/v1/proposals/", lone_surrogate, content_type="application/json")
    assert "title" in assert_problem(response, 400)["errors"]
    assert not Proposal.objects.exists()


def test_a_body_over_the_upload_limit_is_refused(api, customer, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({**_valid(customer), "intro": "x" * 5000})

    response = api.post("/api/v1/proposals/", body, content_type="application/json")

    assert_problem(response, 413)
    assert not Proposal.objects.exists()


@pytest.mark.parametrize(
    "text",
    [
        "Zoë & Björk — “quotes”",
        "👩‍👩‍👧‍👦 family",
        "עברית RTL \u202e",
        "e\u0301 combining",
        "\u200b",
    ],
)
def test_unicode_text_round_trips(api, customer, text):
    response = api.post("/api/v1/proposals/", {**_valid(customer), "title": text}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["title"] == text.strip()


def test_business_rule_refusal_is_422(api, customer):
    from tests.accounts.factories import BusinessFactory
    from tests.proposals.factories import ClientFactory

    foreign = ClientFactory(business=BusinessFactory())
    response = api.post("/api/v1/proposals/", {**_valid(customer), "title": "  "}, format="json")
    problem = assert_problem(response, 422)
    assert "title" in problem["errors"]
    # Well-formed ids that name nothing of this business: no schema can tell, a rule refuses.
    for change, field in (
        ({"client": foreign.pk}, "client"),
        ({"template": 123456789}, "template"),
    ):
        refused = api.post("/api/v1/proposals/", {**_valid(customer), **change}, format="json")
        assert field in assert_problem(refused, 422)["errors"]
    assert not Proposal.objects.exists()


def test_bad_client_input_changes_nothing(api, customer):
    response = api.patch(
        f"/api/v1/clients/{customer.pk}/", {"email": "not-an-email"}, format="json"
    )
    assert "email" in assert_problem(response, 400)["errors"]
    customer.refresh_from_db()
    assert customer.email.endswith("@example.org")
    assert Client.objects.count() == 1


def test_throttling_per_key_answers_429_with_retry_after(api, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key": "2/minute", "api_ip": "100/minute"},
    }
    assert api.get("/api/v1/business/").status_code == 200
    assert api.get("/api/v1/business/").status_code == 200

    response = api.get("/api/v1/business/")

    assert_problem(response, 429)
    assert 0 < int(response["Retry-After"]) <= 60


def test_throttling_per_ip_counts_before_authentication(settings, db):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key": "100/minute", "api_ip": "3/minute"},
    }
    guesser = bearer_client("prk_guess")
    for _ in range(3):
        assert guesser.get("/api/v1/business/").status_code == 401
    assert_problem(guesser.get("/api/v1/business/"), 429)
    # Another client IP is not affected.
    assert guesser.get("/api/v1/business/", REMOTE_ADDR="10.0.0.9").status_code == 401


def test_client_ip_behind_trusted_proxies(settings, db):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "NUM_PROXIES": 1,
        "DEFAULT_THROTTLE_RATES": {"api_key": "100/minute", "api_ip": "1/minute"},
    }
    client = bearer_client("prk_guess")
    first = client.get("/api/v1/business/", HTTP_X_FORWARDED_FOR="203.0.113.7")
    # A spoofed left-most entry does not change the address the proxy saw.
    same_ip = client.get("/api/v1/business/", HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.7")
    other_ip = client.get("/api/v1/business/", HTTP_X_FORWARDED_FOR="203.0.113.8")
    assert first.status_code == 401
    assert same_ip.status_code == 429
    assert other_ip.status_code == 401


def test_an_unhandled_exception_is_a_logged_500_problem(api, draft, monkeypatch, log_events):
    from proposals import selectors

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "proposal_content_rows", broken)
    response = api.get(f"/api/v1/proposals/{draft.pk}/")

    body = assert_problem(response, 500)
    assert "boom" not in json.dumps(body)
    assert any(e["event"] == "api_unhandled_exception" for e in log_events)


def test_every_api_request_is_logged_with_key_id_and_never_the_key(api, api_key, log_events):
    api.get("/api/v1/business/")

    line = next(e for e in log_events if e["event"] == "api_request")
    assert line["api_key_id"] == api_key[0].pk
    assert line["business_id"] == api_key[0].business_id
    assert line["status"] == 200
    assert line["duration_ms"] >= 0
    assert line["request_id"]
    assert api_key[1] not in repr(log_events)


def test_a_refusal_by_an_outer_middleware_is_a_problem_too(api):
    # CommonMiddleware refuses an unknown Host before any API code runs.
    response = api.get("/api/v1/business/", HTTP_HOST="evil.example")

    assert_problem(response, 400)


def test_pages_outside_the_api_keep_their_html_errors(client, db):
    response = client.get("/app/no-such-page/")

    assert response.status_code == 404
    assert "problem" not in response["Content-Type"]
