"""/metrics: Prometheus text, behind a bearer token, with request and database-derived series."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ
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
    # The request series are process-wide: what this test's requests add is what it checks.
    healthz = ("http_requests_total", (("method", "GET"), ("status", "200"), ("view", "healthz")))
    missing = (
        "http_requests_total",
        (("method", "GET"), ("status", "404"), ("view", "<unresolved>")),
    )
    timed = ("http_request_duration_seconds_count", (("view", "healthz"),))
    before = _scrape(client)
    client.get(reverse("healthz"))
    client.get(reverse("healthz"))
    client.get("/no-such-page/")
    after = _scrape(client)
    assert after[healthz] - before.get(healthz, 0) == 2
    assert after[missing] - before.get(missing, 0) == 1
    assert after[timed] - before.get(timed, 0) == 2


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


def test_queue_series_count_what_waits_and_how_long(client, metrics_on, settings):
    now = timezone.now()
    for state in ("pending", "pending", "sending", "failed_retrying"):
        DeliveryFactory(state=state, next_attempt_at=now - timedelta(minutes=10))
    DeliveryFactory(state="pending", next_attempt_at=now + timedelta(hours=1))  # not due yet
    queue = settings.Q_CLUSTER["name"]
    OrmQ.objects.create(key=queue, payload="a", lock=now - timedelta(minutes=5))
    OrmQ.objects.create(key=queue, payload="b", lock=now - timedelta(minutes=1))
    OrmQ.objects.create(key=queue, payload="c", lock=now + timedelta(minutes=1))  # taken
    samples = _scrape(client)
    open_by_state = {
        labels[1][1]: value
        for (name, labels), value in samples.items()
        if name == "proposals_deliveries_open"
    }
    assert open_by_state == {"pending": 3, "sending": 1, "failed_retrying": 1}
    assert samples[("proposals_deliveries_waiting", ())] == 5
    assert 600 <= samples[("proposals_delivery_oldest_due_age_seconds", ())] < 660
    assert samples[("task_queue_depth", ())] == 2
    assert samples[("task_queue_in_flight", ())] == 1
    assert 300 <= samples[("task_queue_oldest_age_seconds", ())] < 360


def _fill(n: int, start: int) -> None:
    """n rows of everything a scrape reads, each with labels of its own where labels vary."""
    for i in range(start, start + n):
        delivery = DeliveryFactory(state=("pending", "failed_retrying", "failed_permanent")[i % 3])
        AttemptFactory(delivery=delivery, duration_ms=10 * i, outcome="sent")
        CallFactory(endpoint=f"/contacts/v4/contacts/{i}", duration_ms=i)
        BreakerFactory(api=f"api-{i}")
        ReceiptFactory(status=("failed", "rejected", "done")[i % 3])


def _scrape_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        _scrape(client)
    return len(queries)


def test_a_scrape_costs_the_same_queries_for_5_and_50_rows_of_everything(client, metrics_on):
    _fill(5, start=0)
    few = _scrape_queries(client)
    _fill(45, start=5)
    many = _scrape_queries(client)
    assert few == many
