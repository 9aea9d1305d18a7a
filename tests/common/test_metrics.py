"""/metrics: Prometheus text, behind a bearer token, with request and database-derived series."""

import pytest
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from tests.support.factories import (
    AttemptFactory,
    BreakerFactory,
    CallFactory,
    DeliveryFactory,
    ReceiptFactory,
)

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN
    return settings


def _scrape(client) -> dict:
    response = client.get(reverse("metrics"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_are_off_without_a_configured_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get(reverse("metrics")).status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer"])
def test_metrics_refuse_a_missing_or_wrong_token(client, metrics_on, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get(reverse("metrics"), **extra)
    assert response.status_code == 401
    assert "http_requests_total" not in response.content.decode()


def test_requests_are_counted_by_view_and_status(client, metrics_on):
    client.get(reverse("healthz"))
    client.get("/no-such-page/")
    samples = _scrape(client)
    assert (
        samples[
            ("http_requests_total", (("method", "GET"), ("status", "200"), ("view", "healthz")))
        ]
        >= 1
    )
    assert (
        samples[
            (
                "http_requests_total",
                (("method", "GET"), ("status", "404"), ("view", "<unresolved>")),
            )
        ]
        >= 1
    )
    assert ("http_request_duration_seconds_count", (("view", "healthz"),)) in samples


def test_database_series_cover_deliveries_queue_wix_breakers_and_webhooks(client, metrics_on):
    delivery = DeliveryFactory()
    AttemptFactory(delivery=delivery, duration_ms=40)
    AttemptFactory(delivery=delivery, duration_ms=4000, outcome="sent")
    CallFactory(duration_ms=120)
    CallFactory(ok=True, status=200, error="", duration_ms=30)
    BreakerFactory(api="contacts")
    ReceiptFactory(status="rejected")
    samples = _scrape(client)
    assert samples[("proposals_deliveries_failed_recent", (("kind", "proposal"),))] == 1
    assert (
        samples[
            (
                "proposals_delivery_attempts_recent",
                (("kind", "proposal"), ("outcome", "transient_failure")),
            )
        ]
        == 1
    )
    assert (
        samples[
            (
                "proposals_delivery_attempt_duration_seconds_bucket",
                (("le", "0.05"), ("outcome", "sent")),
            )
        ]
        == 0
    )
    assert (
        samples[
            (
                "proposals_delivery_attempt_duration_seconds_bucket",
                (("le", "5.0"), ("outcome", "sent")),
            )
        ]
        == 1
    )
    assert (
        samples[
            (
                "wix_calls_recent",
                (("api", "contacts"), ("endpoint", "/contacts/v4/contacts"), ("outcome", "error")),
            )
        ]
        == 1
    )
    assert samples[("wix_call_duration_seconds_count", (("api", "contacts"),))] == 2
    assert samples[("wix_circuit_breaker_state", (("api", "contacts"), ("state", "open")))] == 1
    assert samples[("wix_circuit_breaker_state", (("api", "contacts"), ("state", "closed")))] == 0
    assert samples[("wix_webhook_receipts_recent", (("status", "rejected"),))] == 1
    assert ("task_queue_depth", ()) in samples
    assert ("task_queue_in_flight", ()) in samples
    assert ("proposals_delivery_oldest_due_age_seconds", ()) in samples


def test_a_scrape_costs_a_fixed_number_of_queries(
    client, metrics_on, django_assert_max_num_queries
):
    DeliveryFactory.create_batch(3)
    with django_assert_max_num_queries(15):
        _scrape(client)
