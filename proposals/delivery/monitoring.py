"""What /readyz and /metrics read about email deliveries (registered by ``ProposalsConfig``)."""

from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily, Metric

from common.health import fail_if_older
from common.metrics import histogram, histogram_rows, window_start
from proposals.delivery.selectors import delivery_queue_stats
from proposals.models import Delivery, DeliveryAttempt


def check_deliveries() -> dict:
    stats = delivery_queue_stats()
    fail_if_older(
        stats["oldest_pending_age_seconds"],
        settings.READYZ_MAX_DELIVERY_AGE_SECONDS,
        "oldest due delivery has waited {age}s",
    )
    return stats


def collect_deliveries() -> Iterator[Metric]:
    finished_outcomes = [
        o for o in DeliveryAttempt.Outcome.values if o != DeliveryAttempt.Outcome.IN_PROGRESS
    ]
    since = window_start()

    # Every filter starts with the state or outcome column, so its index serves the scrape.
    deliveries = GaugeMetricFamily(
        "proposals_deliveries_open",
        "Deliveries waiting, being sent or retrying, by kind and state.",
        labels=["kind", "state"],
    )
    for row in (
        Delivery.objects.filter(state__in=Delivery.OPEN_STATES)
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
    for failed_row in (
        Delivery.objects.filter(state=Delivery.State.FAILED_PERMANENT, updated_at__gte=since)
        .order_by()
        .values("kind")
        .annotate(n=Count("pk"))
    ):
        failed.add_metric([failed_row["kind"]], failed_row["n"])
    yield failed

    attempts = DeliveryAttempt.objects.filter(outcome__in=finished_outcomes, started_at__gte=since)
    attempt_counts = GaugeMetricFamily(
        "proposals_delivery_attempts_recent",
        "Delivery attempts started in the window and finished, by kind and outcome.",
        labels=["kind", "outcome"],
    )
    for attempt_row in (
        attempts.order_by().values("delivery__kind", "outcome").annotate(n=Count("pk"))
    ):
        attempt_counts.add_metric(
            [attempt_row["delivery__kind"], attempt_row["outcome"]], attempt_row["n"]
        )
    yield attempt_counts
    yield histogram(
        "proposals_delivery_attempt_duration_seconds",
        "Duration of delivery attempts started in the window, by outcome.",
        ["outcome"],
        histogram_rows(attempts.filter(duration_ms__isnull=False), ["outcome"], "duration_ms"),
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
