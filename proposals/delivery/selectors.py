"""Reads about the delivery pipeline (readiness, admin)."""

from django.db.models import Count, Min, Q
from django.utils import timezone

from proposals.models import Delivery

WAITING = (Delivery.State.PENDING, Delivery.State.FAILED_RETRYING)


def delivery_queue_stats(*, business=None) -> dict:
    """Deliveries waiting or in flight, and how long the oldest due one has waited (seconds)."""
    now = timezone.now()
    queryset = Delivery.objects.filter(state__in=(*WAITING, Delivery.State.SENDING))
    if business is not None:
        queryset = queryset.filter(business=business)
    stats = queryset.aggregate(
        depth=Count("pk"),
        sending=Count("pk", filter=Q(state=Delivery.State.SENDING)),
        retrying=Count("pk", filter=Q(state=Delivery.State.FAILED_RETRYING)),
        oldest_due=Min("next_attempt_at", filter=Q(state__in=WAITING, next_attempt_at__lte=now)),
    )
    oldest = stats.pop("oldest_due")
    stats["oldest_pending_age_seconds"] = (
        round((now - oldest).total_seconds(), 1) if oldest is not None else None
    )
    return stats
