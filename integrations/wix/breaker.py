"""A circuit breaker per Wix API whose state lives in the database, shared by every process.

closed → (``WIX_BREAKER_THRESHOLD`` consecutive failures) → open → (after the cooldown) one
process wins the probe with a conditional UPDATE (half-open) → success closes, failure reopens.
A probe whose process died is taken over once it is older than the cooldown.
"""

from datetime import timedelta

import structlog
from django.conf import settings
from django.db.models import F, Q
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


def _cooldown() -> timedelta:
    return timedelta(seconds=settings.WIX_BREAKER_COOLDOWN)


def before_call(api: str) -> bool:
    """Raise ``CircuitOpen`` unless a call may go out; True when this call is the probe."""
    breaker = CircuitBreaker.objects.filter(api=api).first()
    if breaker is None or breaker.state == State.CLOSED:
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
    # Only write when there is something to reset: the healthy path stays read-only.
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


def record_failure(api: str, *, probe: bool, error: str) -> None:
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
