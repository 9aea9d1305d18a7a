"""The ``IntegrationCall`` record of every attempt: saved at once, or kept and written in one
INSERT inside ``calls_recorded_in_bulk()``."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypedDict

import structlog
from django.db import DatabaseError
from django.utils import timezone

from common.request_id import current_request_id
from integrations.models import IntegrationCall

log = structlog.get_logger(__name__)

# Inside ``calls_recorded_in_bulk()``: the records not yet written (this context's own list).
_pending_calls: ContextVar[list[IntegrationCall] | None] = ContextVar(
    "wix_pending_calls", default=None
)
# A block that makes more calls than this writes what it has so far (retries in an outage).
_PENDING_CALLS_MAX = 500


@contextmanager
def calls_recorded_in_bulk() -> Iterator[None]:
    """Inside, Wix call records are kept and written in one INSERT when the block ends.

    For a drain's batch: one INSERT per batch instead of one per call. Each record keeps the
    time, request id and business of its own call. What it costs: a worker killed inside the
    block loses the records of the calls it made there (its rows are worked again once their
    lease runs out, and those calls are recorded then); a failed INSERT is logged with the
    number of records lost and never fails the rows, whose outcomes are already written.
    """
    pending: list[IntegrationCall] = []
    token = _pending_calls.set(pending)
    try:
        yield
    finally:
        _pending_calls.reset(token)
        _write_calls(pending)


def _write_calls(calls: list[IntegrationCall]) -> None:
    if not calls:
        return
    try:
        IntegrationCall.objects.bulk_create(calls)
    except DatabaseError as exc:
        log.error("wix_call_records_lost", count=len(calls), error=exc.__class__.__name__)
    finally:
        calls.clear()


class CallTarget(TypedDict):
    """Which call a record is of (the rest of ``_record``'s arguments say how it went)."""

    business_id: int | None
    api: str
    endpoint: str


def _record(
    *,
    business_id: int | None,
    api: str,
    endpoint: str,
    method: str,
    status: int | None,
    ok: bool,
    started: float,
    attempt: int,
    error: str = "",
) -> None:
    call = IntegrationCall(
        business_id=business_id,
        api=api,
        endpoint=endpoint[:200],
        method=method,
        status=status,
        ok=ok,
        duration_ms=max(0, int((time.monotonic() - started) * 1000)),
        attempt=attempt,
        request_id=current_request_id() or "",
        error=error[:500],
        created_at=timezone.now(),
    )
    pending = _pending_calls.get()
    if pending is None:
        call.save(force_insert=True)
        return
    pending.append(call)
    if len(pending) >= _PENDING_CALLS_MAX:
        _write_calls(pending)
