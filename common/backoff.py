"""The one retry policy: capped exponential backoff with full jitter, Retry-After honoured,
attempt and age limits. Every queue asks this module when to try again (through
``common.outbox.retry_at`` for outbox kinds, which passes the kind's settings).
"""

import random
from datetime import datetime, timedelta


def full_jitter(attempt: int, *, base: float, cap: float) -> float:
    """Seconds to wait after the ``attempt``-th failure (1-based): uniform in
    [0, min(cap, base·2^(attempt-1))].

    Full jitter spreads the retries of an outage over the whole window instead of sending them
    back in synchronised waves.
    """
    exponent = min(max(attempt - 1, 0), 32)  # past 2^32 the cap has long won
    return random.uniform(0, min(cap, base * 2**exponent))


def next_attempt(
    *,
    attempts: int,
    since: datetime,
    now: datetime,
    max_attempts: int,
    max_age_seconds: float,
    base: float,
    cap: float,
    retry_after: float | None = None,
) -> datetime | None:
    """When to try again after the ``attempts``-th failure, or None: give up.

    A server's ``Retry-After`` (seconds) is a floor under the jittered delay. The retries end
    after ``max_attempts`` tries, or when the next try would be later than ``max_age_seconds``
    after ``since`` (when the work was recorded, or retried by hand).
    """
    if attempts >= max_attempts:
        return None
    delay = full_jitter(attempts, base=base, cap=cap)
    if retry_after is not None:
        delay = max(delay, float(retry_after))
    next_try = now + timedelta(seconds=delay)
    if next_try > since + timedelta(seconds=max_age_seconds):
        return None
    return next_try
