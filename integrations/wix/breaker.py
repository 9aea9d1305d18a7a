"""A circuit breaker per Wix API whose state lives in the database, shared by every process.

closed → (``WIX_BREAKER_THRESHOLD`` consecutive failures) → open → (after the cooldown) one
process wins the probe with a conditional UPDATE (half-open) → success closes, failure reopens.
A probe whose process died is taken over once it is older than the cooldown.

The healthy path reads the row at most once per ``HEALTHY_VIEW_SECONDS`` per API and process,
and writes nothing: a process that last saw the breaker closed with no failures trusts that
view for so long. What that costs: a breaker opened by another process stops this one's calls
up to that long after (its own failures are seen at once: they drop the view), and a success
here resets another process's failure count only once the view is read again. Failures,
probes and every other state are read and written in the row as before.
"""

import time
from datetime import timedelta

import structlog
from django.conf import settings
from django.db.models import F, Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from integrations.models import CircuitBreaker

log = structlog.get_logger(__name__)

State = CircuitBreaker.State


class CircuitOpen(Exception):
    """The breaker refuses the call; ``retry_at`` says when a probe may go out."""

    def __init__(self, api: str, retry_at) -> None:
        super().__init__(f"circuit open for Wix {api}")
        self.api = api
        self.retry_at = retry_at


# How long this process trusts having seen a breaker closed with no failures.
HEALTHY_VIEW_SECONDS = 1.0
# API → time.monotonic() until which it is taken as closed with no failures, unread.
_healthy_until: dict[str, float] = {}


def _seen_healthy(api: str) -> bool:
    return _healthy_until.get(api, 0.0) > time.monotonic()


def _mark_healthy(api: str) -> None:
    _healthy_until[api] = time.monotonic() + HEALTHY_VIEW_SECONDS


def forget(api: str | None = None) -> None:
    """Drop this process's healthy view (of one API, or all): the next call reads the row."""
    if api is None:
        _healthy_until.clear()
    else:
        _healthy_until.pop(api, None)


@receiver(post_save, sender=CircuitBreaker, dispatch_uid="wix_breaker_saved")
@receiver(post_delete, sender=CircuitBreaker, dispatch_uid="wix_breaker_deleted")
def _breaker_row_changed(sender, instance: CircuitBreaker, **kwargs) -> None:
    # A row saved by hand (admin, support, fixtures) is read again at this process's next call.
    forget(instance.api)


def _cooldown() -> timedelta:
    return timedelta(seconds=settings.WIX_BREAKER_COOLDOWN)


def before_call(api: str) -> bool:
    """Raise ``CircuitOpen`` unless a call may go out; True when this call is the probe."""
    if _seen_healthy(api):
        return False
    breaker = CircuitBreaker.objects.filter(api=api).first()
    if breaker is None or breaker.state == State.CLOSED:
        if breaker is None or breaker.consecutive_failures == 0:
            _mark_healthy(api)
        return False
    now = timezone.now()
    if breaker.state == State.OPEN and breaker.retry_at and breaker.retry_at > now:
        raise CircuitOpen(api, breaker.retry_at)
    # Open and cooled down, or a half-open probe that never reported: try to become the probe.
    won = (
        CircuitBreaker.objects.filter(api=api)
        .filter(
            Q(state=State.OPEN, retry_at__lte=now)
            | Q(state=State.HALF_OPEN, probe_started_at__lte=now - _cooldown())
        )
        .update(state=State.HALF_OPEN, probe_started_at=now)
    )
    if won:
        log.info("wix_breaker_probe", api=api)
        return True
    raise CircuitOpen(api, breaker.retry_at or now + _cooldown())


def record_success(api: str, *, probe: bool) -> None:
    if not probe and _seen_healthy(api):
        return  # closed with no failures, as read within the view's time: nothing to reset
    # Only write when there is something to reset.
    changed = CircuitBreaker.objects.filter(api=api).exclude(
        state=State.CLOSED, consecutive_failures=0
    )
    if changed.update(
        state=State.CLOSED,
        consecutive_failures=0,
        opened_at=None,
        retry_at=None,
        probe_started_at=None,
    ):
        log.info("wix_breaker_closed", api=api, after_probe=probe)
    _mark_healthy(api)


def record_failure(api: str, *, probe: bool, error: str) -> None:
    forget(api)
    now = timezone.now()
    CircuitBreaker.objects.get_or_create(api=api)
    if probe:
        CircuitBreaker.objects.filter(api=api).update(
            state=State.OPEN,
            retry_at=now + _cooldown(),
            probe_started_at=None,
            consecutive_failures=F("consecutive_failures") + 1,
            last_error=error[:500],
        )
        log.warning("wix_breaker_reopened", api=api, error=error)
        return
    CircuitBreaker.objects.filter(api=api).update(
        consecutive_failures=F("consecutive_failures") + 1, last_error=error[:500]
    )
    opened = CircuitBreaker.objects.filter(
        api=api, state=State.CLOSED, consecutive_failures__gte=settings.WIX_BREAKER_THRESHOLD
    ).update(state=State.OPEN, opened_at=now, retry_at=now + _cooldown())
    if opened:
        log.warning("wix_breaker_opened", api=api, error=error)


def state_of(api: str) -> str:
    breaker = CircuitBreaker.objects.filter(api=api).first()
    return breaker.state if breaker else State.CLOSED
