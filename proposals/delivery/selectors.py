"""Reads about the delivery pipeline (readiness, admin, support)."""

from django.db.models import Count, F, Min, Q
from django.utils import timezone

from proposals.models import Delivery, Suppression


def delivery_queue_stats(*, business=None) -> dict:
    """Deliveries waiting or in flight, and how long the oldest due one has waited (seconds)."""
    now = timezone.now()
    queryset = Delivery.objects.filter(state__in=Delivery.OPEN_STATES)
    if business is not None:
        queryset = queryset.filter(business=business)
    stats = queryset.aggregate(
        depth=Count("pk"),
        sending=Count("pk", filter=Q(state=Delivery.State.SENDING)),
        retrying=Count("pk", filter=Q(state=Delivery.State.FAILED_RETRYING)),
        oldest_due=Min(
            "next_attempt_at", filter=Q(state__in=Delivery.WAITING_STATES, next_attempt_at__lte=now)
        ),
    )
    oldest = stats.pop("oldest_due")
    stats["oldest_pending_age_seconds"] = (
        round((now - oldest).total_seconds(), 1) if oldest is not None else None
    )
    return stats


def business_suppressions(*, business, limit: int = 50) -> list[Suppression]:
    """The addresses this business no longer emails (active first, newest first), for support."""
    return list(
        Suppression.objects.filter(business=business)
        .select_related("lifted_by")
        .order_by(F("lifted_at").desc(nulls_first=True), "-created_at", "-pk")[:limit]
    )
