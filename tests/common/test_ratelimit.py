"""common.ratelimit: n per window per key, on Redis (one round trip) and on other caches."""

import uuid

import pytest
import redis.connection
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

from common import ratelimit
from common.ratelimit import Limit, Rate
from tests.redis_needed import require_redis


@pytest.fixture
def redis_cache():
    require_redis()
    cache = RedisCache("redis://127.0.0.1:6379/13", {"KEY_PREFIX": f"t{uuid.uuid4().hex}"})
    yield cache
    cache.clear()


@pytest.fixture
def locmem_cache():
    cache = LocMemCache(f"ratelimit-{uuid.uuid4().hex}", {})
    yield cache
    cache.clear()


@pytest.fixture(params=["redis", "locmem"])
def any_cache(request):
    return request.getfixturevalue(f"{request.param}_cache")


@pytest.fixture
def frozen(monkeypatch):
    """Wall clock under the test's control (the windows are aligned to it)."""
    now = {"t": 60 * 16_666_667 + 20.0}  # 20 s into a minute window
    monkeypatch.setattr(ratelimit.time, "time", lambda: now["t"])
    return now


def test_rate_parses_the_settings_format():
    assert Rate.parse("300/minute") == Rate(limit=300, window=60)
    assert Rate.parse("10/hour") == Rate(limit=10, window=3600)
    for bad in ("", "0/minute", "10/fortnight", "ten/hour", "10"):
        with pytest.raises(ValueError):
            Rate.parse(bad)


def test_allows_the_limit_then_refuses_with_the_time_left(any_cache, frozen):
    limit = Limit(key="test:a", rate=Rate(limit=3, window=60))

    outcomes = [ratelimit.hit_one(limit, cache=any_cache) for _ in range(4)]

    assert [o.count for o in outcomes] == [1, 2, 3, 4]
    assert [o.allowed for o in outcomes] == [True, True, True, False]
    assert outcomes[-1].retry_after == 40  # the minute window ends 40 s later


def test_a_new_window_starts_a_new_count(any_cache, frozen):
    limit = Limit(key="test:b", rate=Rate(limit=1, window=60))
    assert ratelimit.hit_one(limit, cache=any_cache).allowed
    assert not ratelimit.hit_one(limit, cache=any_cache).allowed

    frozen["t"] += 40  # the next minute

    assert ratelimit.hit_one(limit, cache=any_cache).allowed


def test_keys_and_rates_count_separately(any_cache, frozen):
    a = Limit(key="test:c", rate=Rate(limit=1, window=60))
    b = Limit(key="test:d", rate=Rate(limit=1, window=60))
    a_per_hour = Limit(key="test:c", rate=Rate(limit=5, window=3600))

    first = ratelimit.hit([a, b, a_per_hour], cache=any_cache)
    second = ratelimit.hit([a, b, a_per_hour], cache=any_cache)

    assert [o.allowed for o in first] == [True, True, True]
    assert [o.allowed for o in second] == [False, False, True]
    assert [o.limit for o in second] == [a, b, a_per_hour]


def test_redis_counts_every_limit_in_one_round_trip(redis_cache, frozen, monkeypatch):
    limits = [
        Limit(key="test:ip", rate=Rate(limit=10, window=60)),
        Limit(key="test:key", rate=Rate(limit=10, window=60)),
    ]
    ratelimit.hit(limits, cache=redis_cache)  # the connection is open
    sent = []
    real = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, *args, **kwargs):
        sent.append(command)
        return real(self, command, *args, **kwargs)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)

    outcomes = ratelimit.hit(limits, cache=redis_cache)

    assert len(sent) == 1
    assert [o.count for o in outcomes] == [2, 2]


def test_redis_counts_on_when_the_server_forgot_the_script(redis_cache, frozen):
    limit = Limit(key="test:noscript", rate=Rate(limit=10, window=60))
    ratelimit.hit_one(limit, cache=redis_cache)
    redis_cache._cache.get_client(write=True).script_flush()  # as a restarted Redis would

    assert ratelimit.hit_one(limit, cache=redis_cache).count == 2
    assert ratelimit.hit_one(limit, cache=redis_cache).count == 3


def test_redis_counters_expire_after_their_window(redis_cache, frozen):
    ratelimit.hit_one(Limit(key="test:ttl", rate=Rate(limit=10, window=60)), cache=redis_cache)

    client = redis_cache._cache.get_client(write=True)
    [key] = client.keys(f"{redis_cache.key_prefix}*")
    assert 0 < client.ttl(key) <= 61
    # Django's own cache API reads the same counter.
    assert redis_cache.get(key.decode().split(":", 2)[2]) == 1


def test_other_caches_recover_when_a_counter_expires_between_add_and_incr(
    locmem_cache, frozen, monkeypatch
):
    limit = Limit(key="test:race", rate=Rate(limit=10, window=60))
    ratelimit.hit_one(limit, cache=locmem_cache)
    real_incr = locmem_cache.incr
    calls = []

    def expiring_incr(key, delta=1, version=None):
        if not calls:  # the counter expires just after add() saw it
            calls.append(key)
            locmem_cache.delete(key)
        return real_incr(key, delta, version)

    monkeypatch.setattr(locmem_cache, "incr", expiring_incr)

    assert ratelimit.hit_one(limit, cache=locmem_cache).count == 1


def test_peek_reads_the_current_windows_without_counting(any_cache, frozen):
    a = Limit(key="test:peek-a", rate=Rate(limit=5, window=60))
    b = Limit(key="test:peek-b", rate=Rate(limit=5, window=60))
    ratelimit.hit([a, a, b], cache=any_cache)

    assert ratelimit.peek([a, b], cache=any_cache) == [2, 1]
    assert ratelimit.peek([a, b], cache=any_cache) == [2, 1]  # reading is not a hit
    assert ratelimit.peek([], cache=any_cache) == []

    frozen["t"] += 40  # the next minute

    assert ratelimit.peek([a, b], cache=any_cache) == [0, 0]


@pytest.mark.parametrize("bad", ["0/minute", "10/fortnight", "ten/hour", "10"])
def test_rate_settings_are_read_by_the_one_parser(monkeypatch, bad):
    from django.core.exceptions import ImproperlyConfigured

    from config.env import env_rate

    monkeypatch.setenv("SOME_RATE", "25/hour")
    assert Rate.parse(env_rate("SOME_RATE", "1/day")) == Rate(25, 3600)
    monkeypatch.setenv("SOME_RATE", bad)
    with pytest.raises(ImproperlyConfigured, match="SOME_RATE"):
        env_rate("SOME_RATE", "1/day")


def test_a_hit_given_back_frees_its_place_in_the_window(any_cache, frozen):
    limit = Limit(key="test:back", rate=Rate(limit=2, window=60))
    assert [ratelimit.hit_one(limit, cache=any_cache).allowed for _ in range(3)] == [
        True,
        True,
        False,
    ]
    ratelimit.give_back(limit, cache=any_cache)
    ratelimit.give_back(limit, cache=any_cache)
    assert ratelimit.peek([limit], cache=any_cache) == [1]
    assert ratelimit.hit_one(limit, cache=any_cache).allowed


def test_giving_back_after_the_window_ended_leaves_the_next_window_alone(any_cache, frozen):
    limit = Limit(key="test:ended", rate=Rate(limit=2, window=60))
    ratelimit.hit_one(limit, cache=any_cache)
    frozen["t"] += 60  # the next window: its counter does not exist yet
    ratelimit.give_back(limit, cache=any_cache)
    assert ratelimit.peek([limit], cache=any_cache) == [0]
    assert ratelimit.hit_one(limit, cache=any_cache).count == 1


def test_hits_counted_elsewhere_are_added_in_one_go_to_the_window_they_happened_in(
    any_cache, frozen
):
    minute = Limit(key="test:by", rate=Rate(limit=10, window=60))
    other = Limit(key="test:by-other", rate=Rate(limit=10, window=60))
    outcomes = ratelimit.hit([minute, other], cache=any_cache, by=[7, 2])
    assert [o.count for o in outcomes] == [7, 2]
    assert ratelimit.hit([minute], cache=any_cache, by=[4])[0].allowed is False  # 11 > 10
    # Hits of the minute that just ended are counted there, not in the current one.
    ended_at = frozen["t"] - 60
    assert ratelimit.hit([minute], cache=any_cache, by=[3], at=ended_at)[0].count == 3
    assert ratelimit.peek([minute, other], cache=any_cache) == [11, 2]


def test_redis_sets_the_expiry_of_a_counter_opened_by_several_hits(redis_cache, frozen):
    ratelimit.hit(
        [Limit(key="test:ttl-by", rate=Rate(limit=10, window=60))], cache=redis_cache, by=[5]
    )
    client = redis_cache._cache.get_client(write=True)
    [key] = client.keys(f"{redis_cache.key_prefix}*")
    assert 0 < client.ttl(key) <= 61
