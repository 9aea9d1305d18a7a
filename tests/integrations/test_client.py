"""The Wix client against the stand-in over real HTTP on loopback."""

import threading
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
import structlog
from django.db import connection
from django.utils import timezone

from common import ratelimit
from integrations.models import CircuitBreaker, IntegrationCall, WixAccessToken
from integrations.wix import breaker, retry_budget, tokens
from integrations.wix import client as client_module
from integrations.wix.client import WixClient, WixError
from tests.accounts.factories import BusinessFactory

TOKEN = "POST /oauth2/token"
INSTANCE = "GET /apps/v1/instance"


@pytest.fixture
def wix_client(wix, business):
    return WixClient.for_business(business)


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


def test_the_token_is_cached_per_instance(wix, wix_client):
    wix_client.get_app_instance()
    wix_client.get_site_properties()
    wix_client.get_app_instance()
    assert wix.count(TOKEN) == 1
    other = BusinessFactory()
    WixClient.for_business(other).get_app_instance()
    assert wix.count(TOKEN) == 2


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_callers_cause_exactly_one_token_request(wix):
    business = BusinessFactory()
    barrier = threading.Barrier(20)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait(timeout=10)
            WixClient.for_business(business).get_site_properties()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert wix.count(TOKEN) == 1
    assert wix.count("GET /site-properties/v4/properties") == 20


def test_a_refused_token_is_refreshed_once_and_the_call_retried(wix, wix_client):
    wix_client.get_app_instance()
    wix.expire_tokens()
    assert wix_client.get_app_instance()["instance"]
    assert wix.count(TOKEN) == 2
    assert wix.count(INSTANCE) == 3
    assert IntegrationCall.objects.filter(status=401).count() == 1


def test_a_token_refused_twice_is_a_permanent_error(wix, wix_client):
    wix.faults(token_ttl=0)  # every token is already expired when it is used
    with pytest.raises(WixError) as raised:
        wix_client.get_app_instance()
    assert raised.value.permanent
    assert wix.count(TOKEN) == 2


def test_wrong_app_credentials_are_a_permanent_error(wix, wix_client, settings):
    settings.WIX_APP_SECRET = "not-the-secret"
    with pytest.raises(WixError) as raised:
        wix_client.get_app_instance()
    assert raised.value.permanent
    assert wix.count(TOKEN) == 1
    assert wix.count(INSTANCE) == 0


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


def test_the_breaker_opens_on_an_outage_and_stops_calls(wix, business, settings):
    settings.WIX_BREAKER_THRESHOLD = 3
    settings.WIX_BREAKER_COOLDOWN = 60
    settings.WIX_MAX_ATTEMPTS = 2
    client = WixClient.for_business(business)
    client.get_app_instance()
    wix.faults(outage=True, paths=["/apps"])
    for _ in range(10):
        with pytest.raises(WixError):
            client.get_app_instance()
    assert breaker.state_of("apps") == CircuitBreaker.State.OPEN
    # Three failures opened it (plus the first healthy call); the rest never left the process.
    assert wix.count(INSTANCE) == 1 + 3
    assert IntegrationCall.objects.filter(api="apps", error="circuit open").count() >= 8
    # Other Wix APIs have their own breaker.
    assert client.get_site_properties()["properties"]


def test_the_breaker_probes_and_closes_after_recovery(wix, business, settings):
    settings.WIX_BREAKER_THRESHOLD = 2
    settings.WIX_BREAKER_COOLDOWN = 0.3
    settings.WIX_MAX_ATTEMPTS = 1
    client = WixClient.for_business(business)
    client.get_app_instance()
    wix.faults(outage=True, paths=["/apps"])
    for _ in range(2):
        with pytest.raises(WixError):
            client.get_app_instance()
    assert breaker.state_of("apps") == CircuitBreaker.State.OPEN
    time.sleep(0.35)
    with pytest.raises(WixError):  # the probe fails: open again
        client.get_app_instance()
    assert breaker.state_of("apps") == CircuitBreaker.State.OPEN
    wix.faults()
    time.sleep(0.35)
    assert client.get_app_instance()["instance"]
    assert breaker.state_of("apps") == CircuitBreaker.State.CLOSED
    assert wix.count(INSTANCE) == 1 + 2 + 1 + 1


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


def test_a_token_endpoint_outage_is_a_transient_wix_error_and_is_recorded(wix, business):
    from integrations.wix.client import access_token

    wix.faults(outage=True, paths=["/oauth2"])
    with pytest.raises(WixError) as raised:
        access_token(
            instance_id=business.instance_id,
            business_id=business.pk,
            deadline=time.monotonic() + 2,
        )
    assert not raised.value.permanent
    call = IntegrationCall.objects.get(api="oauth")
    assert (call.status, call.ok) == (503, False)
    assert not WixAccessToken.objects.get(instance_id=business.instance_id).access_token


@pytest.mark.django_db(transaction=True)
def test_a_caller_never_waits_on_the_token_lock_past_its_deadline(wix):
    from django.db import connections, transaction

    from integrations.wix.client import access_token

    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers with its busy timeout instead")
    business = BusinessFactory()
    WixAccessToken.objects.create(instance_id=business.instance_id)
    holding = threading.Event()
    release = threading.Event()

    def hold_the_lock() -> None:
        with transaction.atomic():
            WixAccessToken.objects.select_for_update().get(instance_id=business.instance_id)
            holding.set()
            release.wait(10)
        connections.close_all()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        holding.wait(5)
        started = time.monotonic()
        with pytest.raises(WixError) as raised:
            access_token(
                instance_id=business.instance_id,
                business_id=business.pk,
                deadline=time.monotonic() + 0.5,
            )
        assert time.monotonic() - started < 1.5
        assert not raised.value.permanent
    finally:
        release.set()
        holder.join(10)
    # The lock wait limit did not leak into this connection's later statements.
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout')")
        assert cursor.fetchone()[0] == "0"
    assert wix.count(TOKEN) == 0


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


def test_an_uninstall_drops_the_token_this_process_holds(wix, wix_client, business):
    wix_client.get_app_instance()
    client_module.drop_tokens(instance_id=business.instance_id)
    assert not WixAccessToken.objects.filter(instance_id=business.instance_id).exists()
    wix_client.get_app_instance()
    assert wix.count(TOKEN) == 2


def test_a_token_refreshed_by_another_process_is_found_in_its_row(wix, wix_client, business):
    wix_client.get_app_instance()
    wix.expire_tokens()
    # Another process met the 401 first and refreshed the row.
    fresh = tokens._request_token(
        instance_id=business.instance_id, business_id=business.pk, deadline=time.monotonic() + 5
    )[0]
    WixAccessToken.objects.filter(instance_id=business.instance_id).update(access_token=fresh)
    assert wix_client.get_app_instance()["instance"]  # 401 with the held one, then the row's
    assert wix.count(TOKEN) == 2


def test_a_breaker_opened_by_another_process_stops_calls_within_the_view_time(
    wix, business, monkeypatch
):
    monkeypatch.setattr(breaker, "HEALTHY_VIEW_SECONDS", 0.2)
    client = WixClient.for_business(business)
    client.get_app_instance()
    # Another process saw the outage and opened the breaker (a plain UPDATE: no signal here).
    CircuitBreaker.objects.update_or_create(api="apps", defaults={"consecutive_failures": 0})
    breaker.forget()
    client.get_app_instance()  # read again: closed, healthy view taken
    CircuitBreaker.objects.filter(api="apps").update(
        state=CircuitBreaker.State.OPEN, retry_at=timezone.now() + timedelta(minutes=5)
    )
    time.sleep(0.25)
    with pytest.raises(WixError) as raised:
        client.get_app_instance()
    assert "circuit open" in raised.value.message
    assert wix.count(INSTANCE) == 2


def test_a_breaker_row_saved_by_hand_is_read_at_the_next_call(wix, business):
    client = WixClient.for_business(business)
    client.get_app_instance()
    CircuitBreaker.objects.create(
        api="apps", state=CircuitBreaker.State.OPEN, retry_at=timezone.now() + timedelta(minutes=5)
    )
    with pytest.raises(WixError):
        client.get_app_instance()
    assert wix.count(INSTANCE) == 1


def test_a_success_resets_failures_another_process_counted_once_it_reads_them(
    wix, business, monkeypatch
):
    monkeypatch.setattr(breaker, "HEALTHY_VIEW_SECONDS", 0.1)
    client = WixClient.for_business(business)
    client.get_app_instance()
    CircuitBreaker.objects.update_or_create(api="apps", defaults={"consecutive_failures": 2})
    time.sleep(0.15)
    client.get_app_instance()
    assert CircuitBreaker.objects.get(api="apps").consecutive_failures == 0


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


def test_a_token_named_stale_is_refreshed_even_when_this_process_holds_another(
    wix, wix_client, business
):
    from integrations.wix.client import access_token

    wix_client.get_app_instance()
    held = tokens._tokens[business.instance_id][0]
    # Another process refreshed the row; support now asks for a token newer than the row's.
    WixAccessToken.objects.filter(instance_id=business.instance_id).update(access_token="newer")
    fresh = access_token(
        instance_id=business.instance_id,
        business_id=business.pk,
        deadline=time.monotonic() + 5,
        stale="newer",
    )
    assert fresh not in (held, "newer")
    assert wix.count(TOKEN) == 2
    assert WixAccessToken.objects.get(instance_id=business.instance_id).access_token == fresh


def test_the_tokens_a_process_holds_are_bounded(wix, db, monkeypatch):
    monkeypatch.setattr(tokens, "_TOKENS_HELD", 3)
    businesses = [BusinessFactory() for _ in range(5)]
    for business in businesses:
        WixClient.for_business(business).get_site_properties()
    assert list(tokens._tokens) == [b.instance_id for b in businesses[-3:]]
