"""The per-business send rate of deliveries.

When a failed delivery is tried again, and when it is given up, is the outbox's one retry
policy (``common.outbox.retry_at`` with the DELIVERY_* settings), not a rule of its own here.
"""

import random
from datetime import datetime, timedelta

from django.conf import settings

from common import ratelimit


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
