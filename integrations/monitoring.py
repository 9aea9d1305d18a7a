"""What /metrics reads about the Wix integration (registered by ``IntegrationsConfig``)."""

from collections.abc import Iterator

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily, Metric

from common.metrics import histogram, histogram_rows, window_start
from integrations.models import CircuitBreaker, IntegrationCall, WebhookReceipt


def collect_wix() -> Iterator[Metric]:
    since = window_start()
    calls = IntegrationCall.objects.filter(created_at__gte=since)
    call_counts = GaugeMetricFamily(
        "wix_calls_recent",
        "Calls to Wix in the window, by API, endpoint and outcome.",
        labels=["api", "endpoint", "outcome"],
    )
    for row in calls.order_by().values("api", "endpoint", "ok").annotate(n=Count("pk")):
        outcome = "ok" if row["ok"] else "error"
        call_counts.add_metric([row["api"], row["endpoint"], outcome], row["n"])
    yield call_counts
    yield histogram(
        "wix_call_duration_seconds",
        "Latency of calls to Wix in the window, by API.",
        ["api"],
        histogram_rows(calls, ["api"], "duration_ms"),
    )

    breakers = GaugeMetricFamily(
        "wix_circuit_breaker_state",
        "1 for the current state of each Wix API circuit breaker.",
        labels=["api", "state"],
    )
    for api, state in CircuitBreaker.objects.values_list("api", "state"):
        for choice in CircuitBreaker.State.values:
            breakers.add_metric([api, choice], 1 if choice == state else 0)
    yield breakers

    receipts = GaugeMetricFamily(
        "wix_webhook_receipts_recent",
        "Webhook receipts received in the window, by status.",
        labels=["status"],
    )
    for receipt_row in (
        WebhookReceipt.objects.filter(last_received_at__gte=since)
        .order_by()
        .values("status")
        .annotate(n=Count("pk"))
    ):
        receipts.add_metric([receipt_row["status"]], receipt_row["n"])
    yield receipts
