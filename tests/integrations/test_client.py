"""The Wix client against the stand-in over real HTTP on loopback: call records, retries,
429s, deadlines, the retry budget and what the healthy path costs (tokens and the breaker
have test_client_tokens.py and test_client_breaker.py)."""

import time
from types import SimpleNamespace

import pytest
import structlog

from common import ratelimit
from integrations.models import IntegrationCall, WixAccessToken
from integrations.wix import client as client_module
from integrations.wix import retry_budget
from integrations.wix.client import WixClient, WixError
from tests.accounts.factories import BusinessFactory
from tests.integrations.standin_counts import INSTANCE, TOKEN


def test_a_call_is_recorded_with_the_request_id_and_never_the_token(wix_client, business):
    structlog.contextvars.bind_contextvars(request_id="req-client-0001")
    try:
        payload = wix_client.get_app_instance()
    finally:
        structlog.contextvars.clear_contextvars()
    assert payload["instance"]["instanceId"] == business.instance_id
    calls = list(IntegrationCall.objects.order_by("pk"))
    assert [(c.api, c.endpoint, c.status, c.ok) for c in calls] == [
        ("oauth", "/oauth2/token", 200, True),
        ("apps", "/apps/v1/instance", 200, True),
    ]
    assert all(c.request_id == "req-client-0001" and c.business_id == business.pk for c in calls)
    token = WixAccessToken.objects.get(instance_id=business.instance_id).access_token
    for call in calls:
        assert token not in f"{call.endpoint}{call.error}{call.request_id}"


def test_429_waits_for_retry_after(wix, wix_client):
    wix_client.get_app_instance()
    wix.faults(storm_429=1, retry_after=1, paths=["/apps"])
    started = time.monotonic()
    assert wix_client.get_app_instance()["instance"]
    assert time.monotonic() - started >= 0.95
    assert wix.count(INSTANCE) == 3


def test_429_longer_than_the_deadline_fails_fast_with_retry_after(wix, wix_client):
    wix.faults(storm_429=5, retry_after=30, paths=["/apps"])
    started = time.monotonic()
    with pytest.raises(WixError) as raised:
        wix_client.get_app_instance()
    assert time.monotonic() - started < 1
    assert not raised.value.permanent
    assert raised.value.retry_after == 30


def test_the_per_instance_rate_limit_answers_429(wix, wix_client):
    wix.faults(rate_limit_per_minute=2)
    wix_client.get_app_instance()
    wix_client.get_app_instance()
    with pytest.raises(WixError) as raised:
        wix_client.get_app_instance()
    assert raised.value.status == 429
    assert raised.value.retry_after and raised.value.retry_after > 1


def test_transient_errors_are_retried_with_recorded_attempts(wix, wix_client):
    wix_client.get_app_instance()
    wix.faults(error_burst=2, error_status=503, paths=["/apps"])
    assert wix_client.get_app_instance()["instance"]
    attempts = list(
        IntegrationCall.objects.filter(api="apps")
        .order_by("pk")
        .values_list("attempt", "status")[1:]
    )
    assert attempts == [(1, 503), (2, 503), (3, 200)]


def test_a_dropped_connection_is_retried(wix, wix_client):
    wix_client.get_app_instance()
    wix.faults(drop_next=1, paths=["/apps"])
    assert wix_client.get_app_instance()["instance"]
    failed = IntegrationCall.objects.get(api="apps", ok=False)
    assert failed.status is None
    assert "connection" in failed.error


def test_attempts_are_capped(wix, wix_client, settings):
    settings.WIX_MAX_ATTEMPTS = 3
    wix_client.get_app_instance()
    wix.faults(error_rate=1.0, paths=["/apps"])
    with pytest.raises(WixError) as raised:
        wix_client.get_app_instance()
    assert not raised.value.permanent
    assert wix.count(INSTANCE) == 1 + 3


def test_a_hanging_call_is_cut_at_the_deadline(wix, wix_client, settings):
    wix_client.get_app_instance()
    settings.WIX_READ_TIMEOUT = 10  # longer than the deadline: the deadline must win
    settings.WIX_CALL_DEADLINE = 1.0
    wix.faults(hang=True, paths=["/apps"])
    started = time.monotonic()
    with pytest.raises(WixError) as raised:
        wix_client.get_app_instance()
    elapsed = time.monotonic() - started
    wix.faults()  # release the stand-in's handler
    assert elapsed < 1.5
    assert not raised.value.permanent
    assert IntegrationCall.objects.filter(api="apps", error__contains="timeout").exists()


def test_slow_answers_within_the_deadline_succeed(wix, wix_client):
    wix.faults(latency_ms=200)
    assert wix_client.get_app_instance()["instance"]


def test_the_retry_budget_limits_retries_during_an_outage(wix, db, settings, monkeypatch):
    settings.WIX_BREAKER_THRESHOLD = 10_000  # isolate the budget from the breaker
    # One budget minute for the whole test: crossing a minute boundary starts a fresh budget.
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: 60 * 29_000_000 + 1.0))
    settings.WIX_MAX_ATTEMPTS = 4
    settings.WIX_RETRY_BUDGET_RATIO = 0.2
    clients = [WixClient.for_business(BusinessFactory()) for _ in range(20)]
    for client in clients:
        client.get_app_instance()
    wix.faults(outage=True, paths=["/apps"])
    for client in clients:
        with pytest.raises(WixError):
            client.get_app_instance()
    outage_calls = wix.count(INSTANCE) - 20
    # Without a budget: 20 × 4 = 80. With it: 20 first attempts + 10 + 20% of 40 first calls.
    assert outage_calls <= 20 + 10 + 8


@pytest.fixture
def budget_clock(monkeypatch):
    """The limiter's clock, 10 s into a minute (timeouts keep the real one)."""
    now = {"t": 60 * 29_000_000 + 10.0}
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: now["t"]))
    return now


def test_the_retry_budget_grows_with_the_calls_and_starts_afresh_each_minute(
    settings, budget_clock
):
    settings.WIX_RETRY_BUDGET_RATIO = 0.5
    allowed = [retry_budget._budget_allows_retry("apps") for _ in range(12)]
    assert allowed == [True] * 10 + [False] * 2  # the floor, with no first attempts yet

    for _ in range(4):
        retry_budget._budget_note_call("apps")
    # 10 + 50% of 4: two more; the refused retries above did not use the budget up.
    assert [retry_budget._budget_allows_retry("apps") for _ in range(3)] == [True, True, False]
    assert retry_budget._budget_allows_retry("contacts")  # each API has its own budget

    budget_clock["t"] += 50  # the next minute

    assert [retry_budget._budget_allows_retry("apps") for _ in range(11)] == [True] * 10 + [False]


def test_first_attempts_reach_the_shared_budget_in_one_round_trip_a_second(
    settings, budget_clock, monkeypatch
):
    round_trips = []
    real_hit = ratelimit.hit
    monkeypatch.setattr(
        ratelimit, "hit", lambda *a, **k: round_trips.append(a) or real_hit(*a, **k)
    )
    monkeypatch.setattr(retry_budget, "_notes_flushed", time.monotonic())
    for _ in range(30):
        retry_budget._budget_note_call("apps")
    retry_budget._budget_note_call("contacts")
    assert round_trips == []  # noted in the process
    # A retry asking the budget sees them all: 10 + 50% of 30 retries this minute.
    settings.WIX_RETRY_BUDGET_RATIO = 0.5
    assert [retry_budget._budget_allows_retry("apps") for _ in range(26)] == [True] * 25 + [False]
    assert len(round_trips) == 1 + 25  # the notes of both APIs together, then each retry
    assert ratelimit.peek([retry_budget._budget_calls("contacts")]) == [1]


def test_first_attempts_noted_before_a_minute_ends_count_in_that_minute(budget_clock, monkeypatch):
    monkeypatch.setattr(retry_budget, "_notes_flushed", time.monotonic())
    retry_budget._budget_note_call("apps")
    budget_clock["t"] += 50  # the next minute: the note goes to the minute it was made in
    retry_budget._budget_note_call("apps")
    budget_clock["t"] -= 50
    assert ratelimit.peek([retry_budget._budget_calls("apps")]) == [1]
    budget_clock["t"] += 50
    retry_budget._budget_flush_notes()
    assert ratelimit.peek([retry_budget._budget_calls("apps")]) == [1]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        ("-5", 0.0),
        ("1e308", 3600.0),
        ("inf", 3600.0),
        ("nan", None),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 3600.0),
        ("soon", None),
    ],
)
def test_retry_after_is_clamped_to_an_hour(header, expected):
    import httpx

    from integrations.wix.transport import _retry_after

    assert _retry_after(httpx.Headers({"retry-after": header})) == expected


# --- what the healthy path costs ------------------------------------------------------------


def test_a_held_token_and_a_closed_breaker_cost_no_query(
    wix, wix_client, django_assert_num_queries
):
    wix_client.get_app_instance()  # the token fetched, the breaker read
    with django_assert_num_queries(1):  # the call's record only
        wix_client.get_app_instance()
    with django_assert_num_queries(1):  # the records of the three calls, in one INSERT
        with client_module.calls_recorded_in_bulk():
            for _ in range(3):
                wix_client.get_app_instance()
    assert IntegrationCall.objects.filter(api="apps", ok=True).count() == 1 + 1 + 3
    assert wix.count(TOKEN) == 1


def test_call_records_written_in_bulk_keep_each_calls_own_request_id(wix, business):
    other = BusinessFactory()
    with client_module.calls_recorded_in_bulk():
        for owner, request_id in ((business, "req-bulk-1"), (other, "req-bulk-2")):
            with structlog.contextvars.bound_contextvars(request_id=request_id):
                WixClient.for_business(owner).get_site_properties()
        assert not IntegrationCall.objects.exists()
    calls = IntegrationCall.objects.order_by("pk")
    assert [(c.business_id, c.api, c.request_id) for c in calls] == [
        (business.pk, "oauth", "req-bulk-1"),
        (business.pk, "site-properties", "req-bulk-1"),
        (other.pk, "oauth", "req-bulk-2"),
        (other.pk, "site-properties", "req-bulk-2"),
    ]
    assert calls[0].created_at <= calls[3].created_at


def test_call_records_that_cannot_be_written_are_counted_in_the_log_not_raised(
    wix, wix_client, monkeypatch, log_events
):
    from django.db import DatabaseError

    def broken(*args, **kwargs):
        raise DatabaseError("disk full")

    with client_module.calls_recorded_in_bulk():
        wix_client.get_app_instance()
        monkeypatch.setattr(IntegrationCall.objects, "bulk_create", broken)
    assert not IntegrationCall.objects.exists()
    (lost,) = [e for e in log_events if e["event"] == "wix_call_records_lost"]
    assert lost["count"] == 2
