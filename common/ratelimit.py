"""One rate limiter: "n per window per key", counted in the shared cache.

Windows are fixed and aligned to the clock (a minute window is 12:03:00–12:04:00), and the
window's number is part of the counter's key. So a counter never needs its TTL read back:
the time left in the window is known from the clock (that is the Retry-After), and a counter
that outlives its window is simply never read again.

On Redis (production) one call counts every limit it is given in ONE round trip: a small Lua
script (``EVALSHA``) that increments each counter and sets its expiry when it opens it. Other
cache backends (locmem in tests, the database cache in development) count with ``add`` +
``incr``, a few calls per limit; the database cache's ``incr`` is not atomic, which is fine
for a developer's machine.

A cache error is not swallowed: the caller answers 5xx rather than letting everyone through.
"""

import hashlib
import math
import re
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache
from redis import Redis
from redis.exceptions import NoScriptError

PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"^\s*([1-9][0-9]*)\s*/\s*(second|minute|hour|day)\s*$")
KEY_PREFIX = "rl"


@dataclass(frozen=True)
class Rate:
    """At most ``limit`` hits per ``window`` seconds."""

    limit: int
    window: int

    @classmethod
    def parse(cls, text: str) -> "Rate":
        """``"300/minute"`` → Rate(300, 60); ValueError for anything else."""
        match = _RATE.match(text or "")
        if match is None:
            raise ValueError(f"A rate looks like '300/minute', not {text!r}")
        return cls(limit=int(match[1]), window=PERIODS[match[2]])


@dataclass(frozen=True)
class Limit:
    """One counter to hit: a key (scope and identity, e.g. ``api_ip:203.0.113.7``) and a rate."""

    key: str
    rate: Rate


@dataclass(frozen=True)
class Outcome:
    """A counter after this hit: allowed while ``count`` is within the limit."""

    limit: Limit
    count: int
    retry_after: int  # whole seconds until the window ends (≥ 1)

    @property
    def allowed(self) -> bool:
        return self.count <= self.limit.rate.limit


def clock() -> float:
    """The time windows are counted by (seconds since the epoch)."""
    return time.time()


def _window(rate: Rate, now: float) -> tuple[int, int]:
    """The window's number and the whole seconds left in it (at least 1)."""
    number = int(now // rate.window)
    left = max(1, math.ceil((number + 1) * rate.window - now))
    return number, left


def _counter_key(limit: Limit, number: int) -> str:
    return f"{KEY_PREFIX}:{limit.key}:{limit.rate.window}:{number}"


def hit(
    limits: Sequence[Limit],
    *,
    cache: BaseCache | None = None,
    by: Sequence[int] | None = None,
    at: float | None = None,
) -> list[Outcome]:
    """Count one hit on every limit (one round trip on Redis); outcomes in the same order.

    ``by``: how many hits to count on each limit instead (hits counted in a process and added
    in one go); ``at``: the time they happened (default now), which names their window.
    """
    # The backend itself: django.core.cache.cache is a proxy (isinstance would not see Redis).
    cache = cache or caches["default"]
    now = clock() if at is None else at
    amounts = list(by) if by is not None else [1] * len(limits)
    windows = [_window(limit.rate, now) for limit in limits]
    keys = [_counter_key(limit, number) for limit, (number, _) in zip(limits, windows, strict=True)]
    if not limits:
        return []
    if isinstance(cache, RedisCache):
        raw_keys = [cache.make_and_validate_key(key) for key in keys]
        counts = _hit_redis(cache, raw_keys, [limit.rate.window for limit in limits], amounts)
    else:
        counts = [
            _hit_portable(cache, key, left, amount)
            for key, (_, left), amount in zip(keys, windows, amounts, strict=True)
        ]
    return [
        Outcome(limit=limit, count=count, retry_after=left)
        for limit, count, (_, left) in zip(limits, counts, windows, strict=True)
    ]


def hit_one(limit: Limit, *, cache: BaseCache | None = None) -> Outcome:
    return hit([limit], cache=cache)[0]


# INCRBY every key; a counter this hit opened (its count is the amount) gets its expiry in the
# same atomic step, so no counter is ever left without one. ARGV[i] is KEYS[i]'s expiry in
# seconds, ARGV[#KEYS + i] the amount to add.
_HIT_SCRIPT = """
local counts = {}
local n = #KEYS
for i, key in ipairs(KEYS) do
  local amount = tonumber(ARGV[n + i])
  local count = redis.call('INCRBY', key, amount)
  if count == amount then redis.call('EXPIRE', key, ARGV[i]) end
  counts[i] = count
end
return counts
"""
# Redis names a script by its SHA-1 (not a security use).
_HIT_SHA = hashlib.sha1(_HIT_SCRIPT.encode(), usedforsecurity=False).hexdigest()
# One redis-py client per cache backend: building one per call (as Django's get_client does)
# copies its table of reply parsers every time.
_clients: "weakref.WeakKeyDictionary[object, Redis]" = weakref.WeakKeyDictionary()


def _hit_redis(
    cache: RedisCache, keys: list[str], windows: list[int], amounts: list[int]
) -> list[int]:
    # The keys are made (prefix, version) as the cache would; talk to its raw client.
    backend = cache._cache
    client = _clients.get(backend)
    if client is None:
        client = _clients[backend] = backend.get_client(keys[0], write=True)
    expiries = [window + 1 for window in windows]
    try:
        counts = client.evalsha(_HIT_SHA, len(keys), *keys, *expiries, *amounts)
    except NoScriptError:  # a restarted (or flushed) Redis: EVAL sends and caches the script
        counts = client.eval(_HIT_SCRIPT, len(keys), *keys, *expiries, *amounts)
    return [int(count) for count in counts]


def _hit_portable(cache: BaseCache, key: str, left: int, amount: int) -> int:
    timeout = left + 1
    if cache.add(key, amount, timeout=timeout):
        return amount
    try:
        return cache.incr(key, amount)
    except ValueError:  # expired between add and incr: this hit opens a new counter
        if cache.add(key, amount, timeout=timeout):
            return amount
        return cache.incr(key, amount)


# DECR a counter only while it exists: a counter that expired (its window ended) is not
# re-created without an expiry.
_GIVE_BACK_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end
return 0
"""
_GIVE_BACK_SHA = hashlib.sha1(_GIVE_BACK_SCRIPT.encode(), usedforsecurity=False).hexdigest()


def give_back(limit: Limit, *, cache: BaseCache | None = None) -> None:
    """Uncount one hit of ``limit`` in its current window: for a hit whose work never happened
    (a send the mail server could not take). A window that ended meanwhile is left alone."""
    cache = cache or caches["default"]
    key = _counter_key(limit, _window(limit.rate, clock())[0])
    if isinstance(cache, RedisCache):
        raw_key = cache.make_and_validate_key(key)
        backend = cache._cache
        client = _clients.get(backend)
        if client is None:
            client = _clients[backend] = backend.get_client(raw_key, write=True)
        try:
            client.evalsha(_GIVE_BACK_SHA, 1, raw_key)
        except NoScriptError:
            client.eval(_GIVE_BACK_SCRIPT, 1, raw_key)
        return
    try:
        cache.decr(key)
    except ValueError:  # no such counter (its window ended): nothing to give back
        pass


def peek(limits: Sequence[Limit], *, cache: BaseCache | None = None) -> list[int]:
    """The counts of the limits' current windows so far, without counting a hit (one read)."""
    cache = cache or caches["default"]
    now = clock()
    keys = [_counter_key(limit, _window(limit.rate, now)[0]) for limit in limits]
    if not keys:
        return []
    found = cache.get_many(keys)
    return [int(found.get(key) or 0) for key in keys]
