# SQL is assembled from this package's constants only (no input reaches it).
# ruff: noqa: S608
"""Production-size seed data, generated inside PostgreSQL (``manage.py seed_scale``).

Every table is filled by one or a few ``INSERT … SELECT`` statements over ``generate_series``.
Nothing random is drawn in Python: each value is a function of the row's id (``seed_scale.u``
hashes an id and a salt into [0, 1)), so a phase computes the same rows whenever it runs and
later phases can derive what they need from the rows earlier phases wrote.

Ids are arithmetic, with gaps, so foreign keys need no lookups:

- proposal ``p`` of business ``b`` is ``b.first_pid + k`` (k = its number, 1…n);
- its versions are ``2p - 1`` (v1) and ``2p`` (v2); ``current_version`` is the last one;
- its sections ``2p - 1``, ``2p``; line items ``3p - 2 … 3p``;
- activity ``20p + slot``; delivery ``8p + slot``; attempt ``4·delivery + n``; view ``4p + n``.

A plan table (``seed_scale.biz``) holds, per business, its tier, sizes and id offsets. Its
progress table records each finished phase with its row count and seconds; the meta table holds
the run's fixed ``now`` and token salt, and the ids a benchmark needs. All of it lives in the
``seed_scale`` schema, which ``--reset`` drops.

The package: ``schema`` (the seed schema, its helpers and the tables it fills), ``lines`` (the
working copy's line items as SQL), ``sql_businesses``, ``sql_proposals``, ``sql_deliveries`` and
``sql_integrations`` (each table's ``INSERT … SELECT``), ``python_phases`` (indexes, sequences,
logins, statistics) and ``session`` (the connection settings of a run); this module orders the
phases and runs them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace

from console.seeding.python_phases import (
    INDEXED_TABLES,
    create_logins,
    drop_secondary_indexes,
    recreate_indexes,
    reminder_due_times,
    reset_sequences,
    vacuum_analyze,
)
from console.seeding.schema import BIG_SIZES, FULL_BUSINESSES, SCHEMA, SEEDED_TABLES, SETUP_SQL
from console.seeding.session import _with_session, reset_session, set_session
from console.seeding.sql_businesses import (
    BUSINESSES_SQL,
    CLIENTS_SQL,
    PLAN_SQL,
    SETTINGS_SQL,
    USERS_SQL,
)
from console.seeding.sql_deliveries import (
    ACTIVITIES_DELIVERY_SQL,
    ACTIVITIES_PROPOSAL_SQL,
    ACTIVITIES_VERSION_SQL,
    ATTEMPTS_SQL,
    DELIVERIES_SQL,
)
from console.seeding.sql_integrations import (
    CALLS_SQL,
    CONTACT_SYNC_SQL,
    WEBHOOKS_SQL,
    WIX_INVOICES_SQL,
)
from console.seeding.sql_proposals import (
    ACCEPTANCES_SQL,
    LINE_ITEMS_SQL,
    PROPOSALS_SQL,
    SECTIONS_SQL,
    VERSIONS_SQL,
    VIEWS_SQL,
)
from proposals.branding import BRAND_NAME_FALLBACK

__all__ = [
    "FULL_BUSINESSES",
    "INDEXED_TABLES",
    "PHASES",
    "SCHEMA",
    "SEEDED_TABLES",
    "Phase",
    "SeedError",
    "finished_phases",
    "prepare",
    "read_meta",
    "reset",
    "reset_session",
    "run_all",
    "set_session",
]

# --- the phases, in order -----------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    name: str
    statements: tuple[str, ...] = ()
    # Phases that must have finished first (the rows this one reads).
    after: tuple[str, ...] = ()
    # Python work instead of statements: gets the cursor and the parameters, returns a count.
    run: Callable | None = None
    # False: the work commits piece by piece (or cannot run in a transaction) and is idempotent.
    atomic: bool = True
    # Split into PARTS ranges of proposal ids, run at once (each its own phase "name.i").
    split: bool = False
    # The proposal-id range of this part (set on the parts of a split phase).
    part: int = 0

    def units(self) -> list[Phase]:
        if not self.split:
            return [self]
        return [replace(self, name=f"{self.name}.{i}", part=i) for i in range(1, PARTS + 1)]

    @property
    def base(self) -> str:
        return self.name.split(".")[0]


PARTS = 3

DATA_PHASES: tuple[Phase, ...] = (
    Phase("plan", (PLAN_SQL,)),
    Phase("businesses", (BUSINESSES_SQL,), after=("plan", "drop_indexes")),
    Phase("users", (USERS_SQL,), after=("businesses",)),
    Phase("settings", (SETTINGS_SQL,), after=("businesses",)),
    Phase("clients", (CLIENTS_SQL,), after=("businesses",)),
    Phase("proposals", (PROPOSALS_SQL,), after=("clients", "users"), split=True),
    Phase("sections", (SECTIONS_SQL,), after=("proposals",), split=True),
    Phase("line_items", (LINE_ITEMS_SQL,), after=("proposals",), split=True),
    Phase("versions", (VERSIONS_SQL,), after=("proposals", "settings"), split=True),
    Phase("views", (VIEWS_SQL,), after=("proposals",), split=True),
    Phase("acceptances", (ACCEPTANCES_SQL,), after=("proposals",)),
    Phase("reminder_due_times", run=reminder_due_times, after=("versions", "settings")),
    Phase("deliveries", (DELIVERIES_SQL,), after=("versions",), split=True),
    Phase("attempts", (ATTEMPTS_SQL,), after=("deliveries",), split=True),
    Phase("activities_proposal", (ACTIVITIES_PROPOSAL_SQL,), after=("proposals",), split=True),
    Phase("activities_version", (ACTIVITIES_VERSION_SQL,), after=("versions",), split=True),
    Phase("activities_delivery", (ACTIVITIES_DELIVERY_SQL,), after=("deliveries",), split=True),
    Phase("contact_syncs", (CONTACT_SYNC_SQL,), after=("clients",)),
    Phase("wix_invoices", (WIX_INVOICES_SQL,), after=("acceptances",)),
    Phase("webhook_receipts", (WEBHOOKS_SQL,), after=("businesses",)),
    Phase("integration_calls", (CALLS_SQL,), after=("businesses",)),
)
_ALL_DATA = tuple(phase.name for phase in DATA_PHASES)

PHASES: tuple[Phase, ...] = (
    Phase("drop_indexes", run=drop_secondary_indexes),
    *DATA_PHASES,
    Phase("sequences", run=reset_sequences, after=_ALL_DATA),
    Phase("logins", run=create_logins, after=("sequences",)),
    Phase("indexes", run=recreate_indexes, atomic=False, after=_ALL_DATA),
    Phase("vacuum_analyze", run=vacuum_analyze, atomic=False, after=("indexes", "logins")),
)


@dataclass(frozen=True)
class Sizes:
    businesses: int
    n_big: int
    big_factor: float
    webhooks: int
    calls: int

    @classmethod
    def for_businesses(cls, businesses: int) -> Sizes:
        share = businesses / FULL_BUSINESSES
        return cls(
            businesses=businesses,
            n_big=max(1, round(len(BIG_SIZES) * share)),
            # A small run keeps one "big" business of a few hundred proposals.
            big_factor=max(share, 200 / BIG_SIZES[0]),
            webhooks=max(50, round(320_000 * share)),
            calls=max(50, round(420_000 * share)),
        )


# --- running ------------------------------------------------------------------------------


class SeedError(Exception):
    pass


def schema_exists(cursor) -> bool:
    cursor.execute("SELECT to_regnamespace(%s) IS NOT NULL", [SCHEMA])
    return bool(cursor.fetchone()[0])


def reset(cursor) -> None:
    """Empty the seeded tables, put back any index an interrupted run dropped, forget progress."""
    cursor.execute("TRUNCATE " + ", ".join(SEEDED_TABLES) + " RESTART IDENTITY CASCADE")
    if schema_exists(cursor):
        cursor.execute(f"SELECT name, definition FROM {SCHEMA}.saved_index")
        for name, definition in cursor.fetchall():
            cursor.execute("SELECT to_regclass(%s)", [f'"{name}"'])
            if cursor.fetchone()[0] is None:
                cursor.execute(definition)
        cursor.execute(f"DROP SCHEMA {SCHEMA} CASCADE")


def read_meta(cursor) -> dict[str, str]:
    if not schema_exists(cursor):
        return {}
    cursor.execute(f"SELECT key, value FROM {SCHEMA}.meta")
    return dict(cursor.fetchall())


def finished_phases(cursor) -> dict[str, tuple[int, float]]:
    cursor.execute(f"SELECT phase, rows, seconds FROM {SCHEMA}.progress")
    return {name: (rows, float(seconds)) for name, rows, seconds in cursor.fetchall()}


def prepare(cursor, *, businesses: int, workers: int = 3) -> dict:
    """Create the helpers; start a run (fixed ``now`` and salt) or check it matches the one
    in progress. Returns the parameters every phase's SQL uses."""
    started = schema_exists(cursor)
    if not started:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM accounts_business)")
        if cursor.fetchone()[0]:
            raise SeedError(
                "accounts_business already holds rows that this command did not write; "
                "run with --reset to empty the seeded tables first."
            )
    cursor.execute(SETUP_SQL)
    cursor.execute(
        f"""
        INSERT INTO {SCHEMA}.meta (key, value) VALUES
            ('businesses', %s), ('now', now()::text), ('salt', md5(random()::text))
        ON CONFLICT (key) DO NOTHING
        """,
        [str(businesses)],
    )
    meta = read_meta(cursor)
    if int(meta["businesses"]) != businesses:
        raise SeedError(
            f"A seed of {meta['businesses']} businesses is in this database; "
            f"run with --reset to start one of {businesses}."
        )
    sizes = Sizes.for_businesses(businesses)
    return {
        "now": meta["now"],
        "salt": meta["salt"],
        "businesses": sizes.businesses,
        "n_big": sizes.n_big,
        "big_sizes": list(BIG_SIZES),
        "big_factor": sizes.big_factor,
        "webhooks": sizes.webhooks,
        "calls": sizes.calls,
        # Share of open proposals whose reminder is left due (not yet sent) for the next run.
        "due_share": 0.05,
        # Owner notifications are kept for a sample of events (the full set would double the
        # deliveries beyond the production count).
        "owner_share": 0.1,
        "workers": workers,
        "brand_name_fallback": BRAND_NAME_FALLBACK,  # as proposal_snapshot names a business
    }


def run_all(params: dict, done: set[str], report: Callable) -> None:
    """Run the unfinished phases, up to ``params["workers"]`` at once, each as soon as the
    phases it reads from are done; ``report(phase, rows, seconds)`` after each one.

    On a failure no new phase starts; the running ones finish (and are recorded), then the
    error is raised: the next run continues from there.
    """
    units = [unit for phase in PHASES for unit in phase.units()]
    pending = [unit for unit in units if unit.name not in done]
    finished = set(done)

    def ready(phase: Phase) -> bool:
        return all(u.name in finished for u in units if u.base in phase.after)

    running: dict = {}
    error: BaseException | None = None
    with ThreadPoolExecutor(max_workers=max(1, params["workers"])) as pool:
        while running or (pending and error is None):
            if error is None:
                for phase in list(pending):
                    if len(running) >= params["workers"]:
                        break
                    if ready(phase):
                        pending.remove(phase)
                        running[pool.submit(_run_in_thread, phase, params)] = phase
            if not running:
                raise SeedError(f"phases cannot start: {[p.name for p in pending]}")
            completed, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in completed:
                phase = running.pop(future)
                try:
                    rows, seconds = future.result()
                except BaseException as exc:
                    error = error or exc
                    continue
                finished.add(phase.name)
                report(phase, rows, seconds)
    if error is not None:
        raise error


def _run_in_thread(phase: Phase, params: dict) -> tuple[int, float]:
    from django.db import connection

    params = {**params, "lo": 0, "hi": 2**62}
    if phase.part:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT coalesce(sum(n_proposals), 0) FROM {SCHEMA}.biz")
            total = cursor.fetchone()[0]
        params["lo"] = total * (phase.part - 1) // PARTS + 1
        params["hi"] = total * phase.part // PARTS
    return _with_session(run_phase, connection, phase, params)


def run_phase(connection, phase: Phase, params: dict) -> tuple[int, float]:
    """Run one phase and record it; an atomic phase commits its rows and its record together."""
    from django.db import transaction

    started = time.monotonic()
    if phase.atomic:
        with transaction.atomic(), connection.cursor() as cursor:
            rows = _execute(cursor, phase, params)
            seconds = time.monotonic() - started
            _record(cursor, phase.name, rows, seconds)
    else:
        with connection.cursor() as cursor:
            rows = _execute(cursor, phase, params)
            seconds = time.monotonic() - started
            _record(cursor, phase.name, rows, seconds)
    return rows, seconds


def _execute(cursor, phase: Phase, params: dict) -> int:
    if phase.run is not None:
        return phase.run(cursor, params)
    rows = 0
    for statement in phase.statements:
        cursor.execute(statement, params)
        rows += max(cursor.rowcount, 0)
    if phase.base == "plan":
        cursor.execute(f"SELECT count(*) FROM {SCHEMA}.biz")
        rows = cursor.fetchone()[0]
    return rows


def _record(cursor, name: str, rows: int, seconds: float) -> None:
    cursor.execute(
        f"INSERT INTO {SCHEMA}.progress (phase, rows, seconds) VALUES (%s, %s, %s)",
        [name, rows, round(seconds, 2)],
    )
