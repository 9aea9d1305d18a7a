"""Prometheus metrics at /metrics: request metrics from middleware, the rest from the database.

Request count and latency are process metrics (with ``PROMETHEUS_MULTIPROC_DIR`` set, every
gunicorn worker writes them there and a scrape sums them). Everything about deliveries, the
queue, Wix calls, breakers and webhooks is computed from the database at scrape time by one
collector: any process answers the same, and a worker restart loses nothing. "Recent" series
cover the last ``METRICS_WINDOW_SECONDS``.
"""

import hmac
import os
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import structlog
from django.conf import settings
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

log = structlog.get_logger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Milliseconds, for durations stored on rows (SMTP sends, Wix calls).
DURATION_BUCKETS_MS = (10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)

REQUESTS = Counter(
    "http_requests_total", "HTTP requests by view, method and status.", ["view", "method", "status"]
)
REQUEST_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by view.",
    ["view"],
    buckets=LATENCY_BUCKETS,
)


def _view_name(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "<unresolved>"
    # Route names, never raw paths: paths carry ids and tokens and have no bounded cardinality.
    return match.view_name or match._func_path


class MetricsMiddleware:
    """Count every request and time it, labelled by the resolved view (not the path)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        view = _view_name(request)
        REQUESTS.labels(view, request.method, str(response.status_code)).inc()
        REQUEST_LATENCY.labels(view).observe(time.perf_counter() - started)
        return response


def _histogram(name: str, doc: str, label_names: list[str], rows: dict) -> HistogramMetricFamily:
    """rows: label values → (cumulative counts per bucket, count, sum in ms)."""
    family = HistogramMetricFamily(name, doc, labels=label_names)
    for labels, (cumulative, count, total_ms) in rows.items():
        buckets = [
            (str(bound / 1000), cumulative[i]) for i, bound in enumerate(DURATION_BUCKETS_MS)
        ]
        buckets.append(("+Inf", count))
        family.add_metric(list(labels), buckets, (total_ms or 0) / 1000)
    return family


def _bucket_aggregates(field: str) -> dict:
    from django.db.models import Sum

    aggregates = {
        f"le_{i}": Count("pk", filter=Q(**{f"{field}__lte": bound}))
        for i, bound in enumerate(DURATION_BUCKETS_MS)
    }
    aggregates["n"] = Count("pk")
    aggregates["total"] = Sum(field)
    return aggregates


def _histogram_rows(queryset, group_by: list[str], field: str) -> dict:
    rows = {}
    for row in queryset.order_by().values(*group_by).annotate(**_bucket_aggregates(field)):
        cumulative = [row[f"le_{i}"] for i in range(len(DURATION_BUCKETS_MS))]
        rows[tuple(str(row[key]) for key in group_by)] = (cumulative, row["n"], row["total"])
    return rows


def tasks_in_flight() -> int | None:
    """Tasks a worker has taken and not yet acknowledged (ORM broker only; None otherwise)."""
    if settings.Q_BROKER != "orm":
        return None
    from django_q.brokers import get_broker
    from django_q.models import OrmQ

    return OrmQ.objects.filter(key=get_broker().list_key, lock__gt=timezone.now()).count()


class DatabaseCollector(Collector):
    """Gauges computed from the database at scrape time (multi-process safe by construction)."""

    def collect(self) -> Iterator:
        # Imported here: common must not depend on the apps when it is imported.
        from common.health import queue_stats
        from integrations.models import CircuitBreaker, IntegrationCall, WebhookReceipt
        from proposals.delivery.selectors import delivery_queue_stats
        from proposals.models import Delivery, DeliveryAttempt

        open_states = (
            Delivery.State.PENDING,
            Delivery.State.SENDING,
            Delivery.State.FAILED_RETRYING,
        )
        finished_outcomes = [
            o for o in DeliveryAttempt.Outcome.values if o != DeliveryAttempt.Outcome.IN_PROGRESS
        ]
        now = timezone.now()
        since = now - timedelta(seconds=settings.METRICS_WINDOW_SECONDS)

        # Every filter starts with the state or outcome column, so its index serves the scrape.
        deliveries = GaugeMetricFamily(
            "proposals_deliveries_open",
            "Deliveries waiting, being sent or retrying, by kind and state.",
            labels=["kind", "state"],
        )
        for row in (
            Delivery.objects.filter(state__in=open_states)
            .order_by()
            .values("kind", "state")
            .annotate(n=Count("pk"))
        ):
            deliveries.add_metric([row["kind"], row["state"]], row["n"])
        yield deliveries
        failed = GaugeMetricFamily(
            "proposals_deliveries_failed_recent",
            "Deliveries that failed for good in the window, by kind.",
            labels=["kind"],
        )
        for row in (
            Delivery.objects.filter(state=Delivery.State.FAILED_PERMANENT, updated_at__gte=since)
            .order_by()
            .values("kind")
            .annotate(n=Count("pk"))
        ):
            failed.add_metric([row["kind"]], row["n"])
        yield failed

        attempts = DeliveryAttempt.objects.filter(
            outcome__in=finished_outcomes, started_at__gte=since
        )
        attempt_counts = GaugeMetricFamily(
            "proposals_delivery_attempts_recent",
            "Delivery attempts started in the window and finished, by kind and outcome.",
            labels=["kind", "outcome"],
        )
        for row in attempts.order_by().values("delivery__kind", "outcome").annotate(n=Count("pk")):
            attempt_counts.add_metric([row["delivery__kind"], row["outcome"]], row["n"])
        yield attempt_counts
        yield _histogram(
            "proposals_delivery_attempt_duration_seconds",
            "Duration of delivery attempts started in the window, by outcome.",
            ["outcome"],
            _histogram_rows(attempts.filter(duration_ms__isnull=False), ["outcome"], "duration_ms"),
        )

        backlog = delivery_queue_stats()
        yield GaugeMetricFamily(
            "proposals_deliveries_waiting",
            "Deliveries waiting or being sent.",
            value=backlog["depth"],
        )
        yield GaugeMetricFamily(
            "proposals_delivery_oldest_due_age_seconds",
            "How long the oldest due delivery has waited (0 when none).",
            value=backlog["oldest_pending_age_seconds"] or 0,
        )
        try:
            queue = queue_stats()
            in_flight = tasks_in_flight()
        except Exception as exc:  # the broker being down is itself worth a metric, not a 500
            log.warning("metrics_queue_unavailable", error=exc.__class__.__name__)
            queue, in_flight = {"depth": -1, "oldest_age_seconds": None}, None
        yield GaugeMetricFamily(
            "task_queue_depth", "Tasks queued in django-q2 (-1: broker down).", value=queue["depth"]
        )
        if in_flight is not None:
            yield GaugeMetricFamily(
                "task_queue_in_flight", "Tasks taken by a worker, not yet done.", value=in_flight
            )
        yield GaugeMetricFamily(
            "task_queue_oldest_age_seconds",
            "Age of the oldest queued task (0 when none).",
            value=queue["oldest_age_seconds"] or 0,
        )

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
        yield _histogram(
            "wix_call_duration_seconds",
            "Latency of calls to Wix in the window, by API.",
            ["api"],
            _histogram_rows(calls, ["api"], "duration_ms"),
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
        for row in (
            WebhookReceipt.objects.filter(last_received_at__gte=since)
            .order_by()
            .values("status")
            .annotate(n=Count("pk"))
        ):
            receipts.add_metric([row["status"]], row["n"])
        yield receipts


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        # Only our metrics (not the default registry's process metrics): small, stable answer.
        registry = CollectorRegistry()
        for collector in (REQUESTS, REQUEST_LATENCY):
            registry.register(collector)
    registry.register(DatabaseCollector())
    return registry


def _authorized(request: HttpRequest) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), settings.METRICS_TOKEN.encode()
    )


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_TOKEN:
        raise Http404("metrics are not enabled")
    if not _authorized(request):
        response = HttpResponse("unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
