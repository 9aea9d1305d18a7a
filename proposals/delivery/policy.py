"""When a failed delivery is tried again, and when it is given up: all numbers are settings."""

import random
from datetime import datetime, timedelta

from django.conf import settings

from common import ratelimit
from common.backoff import full_jitter


def backoff_seconds(failures: int) -> float:
    """Delay after the ``failures``-th failure (1-based), from the delivery settings."""
    return full_jitter(
        failures,
        base=settings.DELIVERY_BACKOFF_BASE_SECONDS,
        cap=settings.DELIVERY_BACKOFF_CAP_SECONDS,
    )


def next_attempt_at(*, failures: int, now: datetime) -> datetime:
    return now + timedelta(seconds=backoff_seconds(failures))


def gives_up(*, attempts: int, created_at: datetime, next_try: datetime) -> bool:
    """True when another try would pass the attempt limit or the maximum age."""
    if attempts >= settings.DELIVERY_MAX_ATTEMPTS:
        return True
    return next_try > created_at + timedelta(seconds=settings.DELIVERY_MAX_AGE_SECONDS)


def take_send_slot(business_id: int, *, now: datetime) -> datetime | None:
    """Count one send against the business's rate; None if allowed, else when to try again.

    ``DELIVERY_RATE_LIMIT`` sends per ``DELIVERY_RATE_WINDOW_SECONDS``, counted by
    ``common.ratelimit`` in the shared cache (Redis in production), so every worker of every
    machine sees the same count. A refused send is due again after the window ends, spread
    over the next window rather than all released at once.
    """
    limit = settings.DELIVERY_RATE_LIMIT
    if not limit:
        return None
    window = settings.DELIVERY_RATE_WINDOW_SECONDS
    outcome = ratelimit.hit_one(
        ratelimit.Limit(key=f"delivery:{business_id}", rate=ratelimit.Rate(limit, window))
    )
    if outcome.allowed:
        return None
    return now + timedelta(seconds=outcome.retry_after + random.uniform(0, window))
