"""The proposals' two rate limits on common.ratelimit: sends per business, answers per IP."""

import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.urls import reverse

from common import ratelimit
from proposals.delivery.policy import take_send_slot
from tests.proposals.factories import make_sent_proposal

WINDOW = 3600


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clock(monkeypatch):
    """The limiter's clock (only its own: timeouts and the database keep the real one)."""
    now = {"t": (time.time() // WINDOW) * WINDOW + 600.0}  # 10 minutes into an hour window
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: now["t"]))
    return now


def _now(clock) -> datetime:
    return datetime.fromtimestamp(clock["t"], tz=UTC)


def test_a_business_gets_its_sends_then_a_time_in_the_next_window(settings, clock):
    settings.DELIVERY_RATE_LIMIT = 2
    settings.DELIVERY_RATE_WINDOW_SECONDS = WINDOW
    now = _now(clock)

    assert take_send_slot(1, now=now) is None
    assert take_send_slot(1, now=now) is None
    retries = [take_send_slot(1, now=now) for _ in range(50)]

    window_end = now + timedelta(seconds=WINDOW - 600)
    assert all(window_end <= at <= window_end + timedelta(seconds=WINDOW) for at in retries)
    # Spread over the next window, not all released at its first second.
    assert max(retries) - min(retries) > timedelta(seconds=WINDOW / 4)
    assert take_send_slot(2, now=now) is None  # another business is not slowed down


def test_the_next_window_gives_a_business_its_sends_again(settings, clock):
    settings.DELIVERY_RATE_LIMIT = 1
    settings.DELIVERY_RATE_WINDOW_SECONDS = WINDOW
    assert take_send_slot(1, now=_now(clock)) is None
    assert take_send_slot(1, now=_now(clock)) is not None

    clock["t"] += WINDOW - 600  # the next hour window

    assert take_send_slot(1, now=_now(clock)) is None
    assert take_send_slot(1, now=_now(clock)) is not None


def test_no_rate_limit_counts_nothing(settings, clock):
    settings.DELIVERY_RATE_LIMIT = 0
    assert all(take_send_slot(1, now=_now(clock)) is None for _ in range(100))
    assert ratelimit.peek([ratelimit.Limit("delivery:1", ratelimit.Rate(1, 60))]) == [0]


@pytest.mark.django_db
def test_answers_are_allowed_again_in_the_next_window(client, settings, clock):
    settings.PUBLIC_ANSWER_RATE_LIMIT = "1/hour"
    _, version = make_sent_proposal()
    url = reverse("public:accept", args=[version.token])
    assert client.post(url, {}, REMOTE_ADDR="198.51.100.7").status_code == 400
    assert client.post(url, {}, REMOTE_ADDR="198.51.100.7").status_code == 429

    clock["t"] += WINDOW

    assert client.post(url, {}, REMOTE_ADDR="198.51.100.7").status_code == 400
