"""How long to wait before a retry, and whether this minute's retry budget still allows one."""

import math

from django.conf import settings

from common import ratelimit
from common.backoff import full_jitter

# Retries always allowed per API per minute, on top of the ratio of first attempts.
_BUDGET_FLOOR = 10


# Per API and clock minute (``common.ratelimit`` windows): the first attempts of calls, and the
# retries, which may be at most _BUDGET_FLOOR + WIX_RETRY_BUDGET_RATIO × the first attempts.
_BUDGET_WINDOW_SECONDS = 60
_UNCAPPED = 2**62  # the calls counter only counts; nothing is refused by it


def _budget_calls(api: str) -> ratelimit.Limit:
    return ratelimit.Limit(
        key=f"wix_budget_calls:{api}", rate=ratelimit.Rate(_UNCAPPED, _BUDGET_WINDOW_SECONDS)
    )


def _budget_retries(api: str, allowed: int) -> ratelimit.Limit:
    return ratelimit.Limit(
        key=f"wix_budget_retries:{api}", rate=ratelimit.Rate(allowed, _BUDGET_WINDOW_SECONDS)
    )


def _budget_note_call(api: str) -> None:
    ratelimit.hit_one(_budget_calls(api))


def _budget_allows_retry(api: str) -> bool:
    """True (and the retry counted) while this minute's retries are within the budget."""
    calls, retries = ratelimit.peek([_budget_calls(api), _budget_retries(api, 0)])
    allowed = math.ceil(_BUDGET_FLOOR + settings.WIX_RETRY_BUDGET_RATIO * calls)
    if retries >= allowed:
        return False  # refused retries are not counted: more calls this minute free more
    return ratelimit.hit_one(_budget_retries(api, allowed)).allowed


def _backoff(attempt: int) -> float:
    return full_jitter(attempt, base=settings.WIX_BACKOFF_BASE, cap=settings.WIX_BACKOFF_CAP)
