"""How long to wait before a retry, and whether this minute's retry budget still allows one."""

import math
import threading
import time

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


# First attempts are counted in the process and added to the shared counters in one round trip
# at most _NOTES_FLUSH_SECONDS later, or as soon as a retry asks the budget or a minute ends (an
# install webhook makes three calls: three round trips otherwise). Notes a process dies holding
# are lost: the budget then allows fewer retries, never more.
_NOTES_FLUSH_SECONDS = 1.0
_notes: dict[tuple[str, int], int] = {}  # (api, minute window) → first attempts not yet added
_notes_lock = threading.Lock()
_notes_flushed = 0.0  # time.monotonic() of the last flush


def _budget_note_call(api: str) -> None:
    window = int(ratelimit.clock() // _BUDGET_WINDOW_SECONDS)
    with _notes_lock:
        _notes[(api, window)] = _notes.get((api, window), 0) + 1
        due = time.monotonic() - _notes_flushed >= _NOTES_FLUSH_SECONDS
        due = due or any(noted != window for _, noted in _notes)
    if due:
        _budget_flush_notes()


def _budget_flush_notes() -> None:
    """Add the first attempts noted in this process to the shared counters, each to its minute."""
    global _notes_flushed
    with _notes_lock:
        pending = dict(_notes)
        _notes.clear()
        _notes_flushed = time.monotonic()
    for window in sorted({noted for _, noted in pending}):
        noted = [(api, n) for (api, at), n in pending.items() if at == window]
        ratelimit.hit(
            [_budget_calls(api) for api, _ in noted],
            by=[n for _, n in noted],
            at=window * _BUDGET_WINDOW_SECONDS,
        )


def _budget_allows_retry(api: str) -> bool:
    """True (and the retry counted) while this minute's retries are within the budget."""
    if _notes:
        _budget_flush_notes()
    calls, retries = ratelimit.peek([_budget_calls(api), _budget_retries(api, 0)])
    allowed = math.ceil(_BUDGET_FLOOR + settings.WIX_RETRY_BUDGET_RATIO * calls)
    if retries >= allowed:
        return False  # refused retries are not counted: more calls this minute free more
    return ratelimit.hit_one(_budget_retries(api, allowed)).allowed


def _backoff(attempt: int) -> float:
    return full_jitter(attempt, base=settings.WIX_BACKOFF_BASE, cap=settings.WIX_BACKOFF_CAP)
