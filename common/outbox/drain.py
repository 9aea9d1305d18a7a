"""The drain task of every kind, the coalesced enqueue that starts it, and the sweeper.

A drain claims a batch, hands it to the kind's ``work`` function, and claims again until no
row is due or its time budget (``DRAIN_SECONDS``) is spent; when a claim comes back full it
first asks for one more drain, so idle workers join in on a backlog. A backlog costs one
django-q2 task per batch, never one per row.

``request_drain`` coalesces: a short-lived cache flag says "a drain of this kind is queued and
has not started"; while it is set, more requests add nothing. A drain clears the flag as it
starts, before its first claim, so a row committed after that sets it again. The flag is only
the fast path: the sweeper (every minute) asks for a drain of every kind that has due rows,
and takes back rows whose lease ran out.

Recovery: a batch with a row failed for now (or stopped: a dependency down) marks its kind
failing. The first batch after that with a success and no such failure pulls forward the rows
waiting out a backoff (``recovered``): the backoff spares a dependency that is down, and once it
answers again a longer wait only delays the business's email. While nothing of a failing kind
is due, the sweeper makes its soonest waiting row due (``_probe``): the dependency is tried once
a minute, and its recovery is noticed within a minute.
"""

import time
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from common.outbox.claim import claim, expire_leases, pull_forward, release
from common.outbox.kinds import Kind, all_kinds, get_kind

log = structlog.get_logger(__name__)

DRAIN_TASK = "common.outbox.tasks.drain"
SWEEP_TASK = "common.outbox.tasks.sweep"
FLAG_PREFIX = "outbox:drain-queued:"
FAILING_PREFIX = "outbox:failing:"
PULLED_PREFIX = "outbox:pulled-forward:"


@dataclass
class Batch:
    """What a kind's ``work`` gets: the claimed rows and the drain's clock."""

    kind: Kind
    rows: list
    now: datetime
    deadline: float  # time.monotonic() after which no new row should be started
    stats: dict = field(default_factory=dict)
    stopped: bool = False

    def out_of_time(self) -> bool:
        return time.monotonic() >= self.deadline

    def stop(self) -> None:
        """No more batches in this drain (a dependency is down; the sweeper tries later)."""
        self.stopped = True

    def count(self, outcome: str, n: int = 1) -> None:
        self.stats[outcome] = self.stats.get(outcome, 0) + n


def _flag_key(kind: Kind) -> str:
    return f"{FLAG_PREFIX}{kind.name}"


def request_drain(kind: "str | Kind", *, force: bool = False) -> bool:
    """Queue a drain of this kind unless one is already queued. Never raises.

    Returns True when a task was put on the queue. ``force`` skips the coalescing flag (the
    sweeper: a flag whose task was lost must not block the kind until it expires).
    """
    from django_q.tasks import async_task

    kind = get_kind(kind)
    key = _flag_key(kind)
    if not force:
        try:
            if not cache.add(key, 1, timeout=settings.OUTBOX_DRAIN_FLAG_SECONDS):
                return False
        except Exception as exc:  # a cache outage must not stop the work: enqueue anyway
            log.warning("outbox_flag_failed", kind=kind.name, error=exc.__class__.__name__)
    # A drain serves rows of many requests: it must not carry this one's log context.
    context = structlog.contextvars.get_contextvars()
    structlog.contextvars.clear_contextvars()
    try:
        async_task(DRAIN_TASK, kind.name, task_name=f"outbox-drain-{kind.name}")
    except Exception as exc:  # the broker being down must not fail the committed change
        log.warning("outbox_enqueue_failed", kind=kind.name, error=exc.__class__.__name__)
        _clear_flag(kind)
        return False
    finally:
        structlog.contextvars.bind_contextvars(**context)
    return True


def _clear_flag(kind: Kind) -> None:
    try:
        cache.delete(_flag_key(kind))
    except Exception as exc:
        log.warning("outbox_flag_failed", kind=kind.name, error=exc.__class__.__name__)


def forget_queued_drains() -> None:
    """Clear every kind's flags: "drain queued", "failing" and "pulled forward" (tests: a
    rolled-back queue row keeps no flag, and one test's failures are not the next one's)."""
    for kind in all_kinds():
        _clear_flag(kind)
        cache.delete_many([f"{FAILING_PREFIX}{kind.name}", f"{PULLED_PREFIX}{kind.name}"])


def record_on_commit(kind: "str | Kind", *, using: str | None = None) -> None:
    """Ask for a drain once the current transaction commits (the row is the record)."""
    kind = get_kind(kind)
    transaction.on_commit(lambda: request_drain(kind), using=using)


def drain(kind: "str | Kind", *, max_seconds: float | None = None) -> dict:
    """Work due rows of one kind, batch after batch, within the kind's time budget.

    Safe to run any number of times at once: each claim takes rows nobody else holds.
    Returns counts: ``claimed``, ``batches``, ``left`` (given back unworked) and whatever the
    kind's ``work`` counted.
    """
    kind = get_kind(kind)
    _clear_flag(kind)
    limit = int(kind.setting("BATCH_SIZE"))
    budget = kind.setting("DRAIN_SECONDS") if max_seconds is None else max_seconds
    deadline = time.monotonic() + budget
    totals: dict = {"claimed": 0, "batches": 0, "left": 0}
    # With django-q2 in sync mode a requested drain would run inside this one, and so on:
    # one drain at a time then, and the sweeper picks up what it leaves.
    fan_out_blocked = _queue_is_synchronous()
    while time.monotonic() < deadline:
        now = timezone.now()
        rows = claim(kind, limit=limit, now=now)
        if not rows:
            break
        if len(rows) == limit and not fan_out_blocked:
            request_drain(kind)  # more may be due: let an idle worker take the next batch
        batch = Batch(kind=kind, rows=rows, now=now, deadline=deadline)
        left = kind.work_function(batch) or []
        totals["claimed"] += len(rows)
        totals["batches"] += 1
        for outcome, n in batch.stats.items():
            totals[outcome] = totals.get(outcome, 0) + n
        pulled = recovered(kind, batch)
        if pulled:
            totals["pulled_forward"] = totals.get("pulled_forward", 0) + pulled
            if not fan_out_blocked:
                request_drain(kind)  # a backlog is due at once: idle workers join in
        if left:
            release(kind, list(left))
            totals["left"] += len(left)
            break
        if batch.stopped:
            totals["stopped"] = True
            break
    if totals["left"] and not fan_out_blocked:
        request_drain(kind)
    if totals["claimed"]:
        log.info("outbox_drained", kind=kind.name, **totals)
    return totals


def recovered(kind: Kind, batch: Batch) -> int:
    """After a batch: mark the kind failing, or, if it was and this batch's work succeeded,
    make its waiting rows due now (``RECOVERY_ROWS`` at most, once per backoff base; a full
    pull leaves the mark, so the next good batch takes more). Returns the rows pulled forward.
    Never raises: without the cache the rows simply wait out their backoff.
    """
    failing_key = f"{FAILING_PREFIX}{kind.name}"
    try:
        if batch.stopped or any(batch.stats.get(o) for o in kind.retry_outcomes):
            cache.set(failing_key, 1, timeout=int(kind.setting("MAX_AGE_SECONDS")))
            return 0
        if not any(batch.stats.get(o) for o in kind.success_outcomes):
            return 0
        if not cache.get(failing_key):
            return 0
        cooldown = max(1, int(kind.setting("BACKOFF_BASE_SECONDS")))
        if not cache.add(f"{PULLED_PREFIX}{kind.name}", 1, timeout=cooldown):
            return 0
        limit = int(kind.setting("RECOVERY_ROWS"))
        pulled = pull_forward(kind, limit=limit, now=batch.now)
        if pulled < limit:
            cache.delete(failing_key)
    except Exception as exc:
        log.warning("outbox_recovery_failed", kind=kind.name, error=exc.__class__.__name__)
        return 0
    log.info("outbox_recovered", kind=kind.name, pulled_forward=pulled)
    return pulled


def _probe(kind: Kind, *, now: datetime) -> bool:
    """A failing kind with nothing due: its soonest waiting row is due now, so the drain the
    sweeper asks for tries the dependency once a minute (if it answers, ``recovered`` takes the
    rest; if not, that row backs off again). True when a row was pulled forward."""
    try:
        if not cache.get(f"{FAILING_PREFIX}{kind.name}"):
            return False
    except Exception:
        return False
    return pull_forward(kind, limit=1, now=now) == 1


def _queue_is_synchronous() -> bool:
    from django_q.conf import Conf

    return bool(Conf.SYNC)


def sweep(*, now: datetime | None = None) -> dict:
    """The safety net for every kind: take back expired leases, drain what is due.

    Returns ``{kind: {"recovered": n, "drain": bool}}``.
    """
    now = now or timezone.now()
    report = {}
    for kind in all_kinds():
        recovered = expire_leases(kind, now=now)
        if recovered:
            log.warning("outbox_lease_expired", kind=kind.name, ids=recovered, count=len(recovered))
        due = (
            kind.model_class._default_manager.filter(
                **{f"{kind.state_field}__in": kind.due_states}, next_attempt_at__lte=now
            )
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:1]
        )
        is_due = bool(list(due)) or _probe(kind, now=now)
        requested = is_due and request_drain(kind, force=True)
        report[kind.name] = {"recovered": len(recovered), "drain": requested}
    return report
