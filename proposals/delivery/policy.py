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
    limit = _send_limit(business_id)
    if limit is None:
        return None
    outcome = ratelimit.hit_one(limit)
    if outcome.allowed:
        return None
    window = limit.rate.window
    return now + timedelta(seconds=outcome.retry_after + random.uniform(0, window))


def give_back_send_slot(business_id: int) -> None:
    """A send the mail server did not take (it asked to try later): it does not count against
    the business's rate, or an outage would hold its emails back past the window."""
    limit = _send_limit(business_id)
    if limit is not None:
        ratelimit.give_back(limit)


def _send_limit(business_id: int) -> ratelimit.Limit | None:
    if not settings.DELIVERY_RATE_LIMIT:
        return None
    rate = ratelimit.Rate(settings.DELIVERY_RATE_LIMIT, settings.DELIVERY_RATE_WINDOW_SECONDS)
    return ratelimit.Limit(key=f"delivery:{business_id}", rate=rate)
