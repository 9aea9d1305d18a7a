"""Retry delays: capped exponential backoff with full jitter, in one place."""

import random


def full_jitter(attempt: int, *, base: float, cap: float) -> float:
    """Seconds to wait after the ``attempt``-th failure (1-based): uniform in
    [0, min(cap, base·2^(attempt-1))].

    Full jitter spreads the retries of an outage over the whole window instead of sending them
    back in synchronised waves.
    """
    exponent = min(max(attempt - 1, 0), 32)  # past 2^32 the cap has long won
    return random.uniform(0, min(cap, base * 2**exponent))
