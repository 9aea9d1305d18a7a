"""The registry of outbox kinds and the numbers each one reads from settings.

Each app registers its kinds in ``AppConfig.ready()``; ``common`` imports no app (a kind names
its model and its functions by dotted path, resolved on first use).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from common.backoff import next_attempt

# Every number a kind reads, with the engine's default. A kind's own setting
# ``<prefix><NAME>`` wins, then ``OUTBOX_DEFAULTS[<NAME>]``, then this table.
DEFAULTS: dict[str, float] = {
    "MAX_ATTEMPTS": 8,  # tries before giving up
    "MAX_AGE_SECONDS": 2 * 86400,  # since the row was recorded (or retried by hand)
    "BACKOFF_BASE_SECONDS": 30.0,
    "BACKOFF_CAP_SECONDS": 3600.0,
    "LEASE_SECONDS": 180,  # > Q_TIMEOUT: an expired lease means the worker is gone
    "BATCH_SIZE": 50,  # rows per claim
    "DRAIN_SECONDS": 20.0,  # a drain stops claiming after this (well under Q_TIMEOUT)
    "SWEEP_BATCH_SIZE": 500,  # expired leases returned per sweep
    # Once the work succeeds again after transient failures: rows waiting out a backoff made
    # due now, at most this many per BACKOFF_BASE_SECONDS (see ``drain.recovered``).
    "RECOVERY_ROWS": 500,
}


@dataclass(frozen=True)
class Kind:
    """One kind of outbox row.

    ``work`` is the dotted path of ``work(batch: Batch) -> list[row]``: it works the claimed
    rows (``batch.rows``) and returns the rows it did not start (out of time, a dependency
    down); the engine gives those back, due now, without an attempt.
    ``on_lease_expired`` (optional) is ``f(ids: list[int], *, now) -> None``, run inside the
    sweeper's transaction for rows whose worker died (e.g. mark the open attempt interrupted).
    ``success_outcomes`` / ``retry_outcomes`` name the outcomes ``work`` counts
    (``batch.count``) for a row done and a row failed for now (its retry waits out a backoff):
    the engine tells from them that the dependency is failing, and that it answers again.
    """

    name: str
    model: str  # "app_label.ModelName"
    work: str
    due_states: tuple[str, ...]
    working_state: str
    # The state a row returns to when its lease ran out (default: the first due state).
    lost_state: str = ""
    on_lease_expired: str = ""
    select_related: tuple[str, ...] = ()
    # Settings read as f"{settings_prefix}{NAME}" (default f"OUTBOX_{NAME.upper()}_").
    settings_prefix: str = ""
    state_field: str = "state"
    lease_error: str = "worker lost while working"
    success_outcomes: tuple[str, ...] = ()
    retry_outcomes: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict, compare=False)

    @cached_property
    def model_class(self) -> Any:
        from django.apps import apps

        return apps.get_model(self.model)

    @cached_property
    def work_function(self) -> Any:
        return import_string(self.work)

    @cached_property
    def lease_expired_function(self) -> Any:
        return import_string(self.on_lease_expired) if self.on_lease_expired else None

    @property
    def return_state(self) -> str:
        return self.lost_state or self.due_states[0]

    def setting(self, name: str) -> Any:
        prefix = self.settings_prefix or f"OUTBOX_{self.name.upper()}_"
        value = getattr(settings, f"{prefix}{name}", None)
        if value is None:
            value = getattr(settings, "OUTBOX_DEFAULTS", {}).get(name, DEFAULTS[name])
        return value

    def lease(self) -> timedelta:
        return timedelta(seconds=self.setting("LEASE_SECONDS"))


_REGISTRY: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Add a kind; the same declaration twice is fine, another under a taken name fails."""
    existing = _REGISTRY.get(kind.name)
    if existing is not None and existing != kind:
        raise ValueError(f"outbox kind {kind.name!r} is already registered differently")
    _REGISTRY[kind.name] = kind
    return kind


def get_kind(name: "str | Kind") -> Kind:
    if isinstance(name, Kind):
        return name
    try:
        return _REGISTRY[name]
    except KeyError:
        raise LookupError(f"no outbox kind {name!r} (registered: {sorted(_REGISTRY)})") from None


def all_kinds() -> list[Kind]:
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def retry_at(
    kind: "str | Kind",
    *,
    attempts: int,
    since: datetime,
    now: datetime,
    retry_after: float | None = None,
) -> datetime | None:
    """When to try again after the ``attempts``-th failure, or None: give up.

    ``common.backoff.next_attempt`` with the kind's limits: full jitter within its base and
    cap, ``Retry-After`` (seconds) as a floor, its attempt limit and maximum age (from
    ``since``: when the row was recorded, or retried by hand).
    """
    kind = get_kind(kind)
    return next_attempt(
        attempts=attempts,
        since=since,
        now=now,
        max_attempts=kind.setting("MAX_ATTEMPTS"),
        max_age_seconds=kind.setting("MAX_AGE_SECONDS"),
        base=kind.setting("BACKOFF_BASE_SECONDS"),
        cap=kind.setting("BACKOFF_CAP_SECONDS"),
        retry_after=retry_after,
    )
