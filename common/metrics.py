"""Prometheus metrics at /metrics: request metrics from middleware, the rest from the database.

Request count and latency are process metrics (with ``PROMETHEUS_MULTIPROC_DIR`` set, every
gunicorn worker writes them there and a scrape sums them). Everything about deliveries, the
queue, Wix calls, breakers and webhooks is computed from the database at scrape time by the
collectors common and each app register (``register_collector``): any process answers the
same, and a worker restart loses nothing. "Recent" series cover the last
``METRICS_WINDOW_SECONDS``.
"""

import hmac
import os
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db.models import Aggregate, Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
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


def histogram(name: str, doc: str, label_names: list[str], rows: dict) -> HistogramMetricFamily:
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

    aggregates: dict[str, Aggregate] = {
        f"le_{i}": Count("pk", filter=Q(**{f"{field}__lte": bound}))
        for i, bound in enumerate(DURATION_BUCKETS_MS)
    }
    aggregates["n"] = Count("pk")
    aggregates["total"] = Sum(field)
    return aggregates


def histogram_rows(queryset, group_by: list[str], field: str) -> dict:
    """The rows of ``histogram`` for a duration column in ms, per ``group_by`` values."""
    rows = {}
    for row in queryset.order_by().values(*group_by).annotate(**_bucket_aggregates(field)):
        cumulative = [row[f"le_{i}"] for i in range(len(DURATION_BUCKETS_MS))]
        rows[tuple(str(row[key]) for key in group_by)] = (cumulative, row["n"], row["total"])
    return rows


def window_start() -> datetime:
    """Where the "recent" series begin."""
    return timezone.now() - timedelta(seconds=settings.METRICS_WINDOW_SECONDS)


def tasks_in_flight() -> int | None:
    """Tasks a worker has taken and not yet acknowledged (ORM broker only; None otherwise)."""
    if settings.Q_BROKER != "orm":
        return None
    from django_q.brokers import get_broker
    from django_q.models import OrmQ

    return OrmQ.objects.filter(key=get_broker().list_key, lock__gt=timezone.now()).count()


def collect_task_queue() -> Iterator[Metric]:
    from common.health import queue_stats

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


# What a scrape computes from the database: common's task queue, and what each app adds from
# its AppConfig.ready() (common knows no app). Each yields metric families.
COLLECTORS: dict[str, Callable[[], Iterable[Metric]]] = {"task_queue": collect_task_queue}


def register_collector(name: str, collect: Callable[[], Iterable[Metric]]) -> None:
    """Add a scrape-time collector under ``name`` (the same one again replaces it)."""
    COLLECTORS[name] = collect


class DatabaseCollector(Collector):
    """Gauges computed from the database at scrape time (multi-process safe by construction)."""

    def collect(self) -> Iterator[Metric]:
        for collect in COLLECTORS.values():
            yield from collect()


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
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_TOKEN:
        raise Http404("metrics are not enabled")
    if not _authorized(request):
        response = HttpResponse("unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
