import json

import pytest

from common.request_id import sanitize_request_id


@pytest.mark.django_db
def test_a_sane_request_id_is_echoed(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="req-1234abcd")
    assert response["X-Request-ID"] == "req-1234abcd"


@pytest.mark.django_db
def test_a_request_without_an_id_gets_a_fresh_one(client):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert len(first) == 32 and first != second


@pytest.mark.parametrize(
    "hostile",
    [
        "a" * 500,
        "abc\ndef-ghijk",
        "abcdefghijk\n",
        "abc\x00defghijk",
        "abcdefgh\r\nSet-Cookie: x=1",
        "<script>alert(1)</script>",
        "short",
        "",
    ],
)
def test_hostile_request_ids_are_replaced(hostile):
    replaced = sanitize_request_id(hostile)
    assert replaced != hostile
    assert len(replaced) == 32 and replaced.isalnum()


@pytest.mark.django_db
def test_hostile_header_gets_a_fresh_id_in_response_and_logs(client, log_events):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="x" * 300)
    logs = log_events
    request_id = response["X-Request-ID"]
    assert request_id != "x" * 300 and len(request_id) == 32
    finished = [e for e in logs if e["event"] == "request_finished"]
    assert finished and finished[0]["request_id"] == request_id
    assert "x" * 300 not in json.dumps(logs, default=str)


@pytest.mark.django_db
def test_log_lines_of_a_request_carry_business_and_user(owner_client, business, owner, log_events):
    owner_client.get("/healthz", HTTP_X_REQUEST_ID="trace-abcdef12")
    logs = log_events
    finished = [e for e in logs if e["event"] == "request_finished"][0]
    assert finished["request_id"] == "trace-abcdef12"
    assert finished["business_id"] == business.pk
    assert finished["user_id"] == owner.pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    ["/p/abc%00def", "/p/abc%00def/accept", "/app/?q=ab%00c", "/api/v1/proposals/?search=%00"],
)
def test_a_nul_byte_in_the_url_is_a_400_everywhere(client, url):
    response = client.post(url) if url.endswith("accept") else client.get(url)
    assert response.status_code == 400


@pytest.mark.django_db
def test_a_nul_byte_under_the_api_is_problem_details(client):
    response = client.get("/api/v1/proposals/?search=%00")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
