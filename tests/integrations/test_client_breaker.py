"""The Wix client's circuit breaker: opened by an outage, probed after it, and shared by every
process through its row."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import CircuitBreaker, IntegrationCall
from integrations.wix import breaker
from integrations.wix.client import WixClient, WixError
from tests.integrations.standin_counts import INSTANCE


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
