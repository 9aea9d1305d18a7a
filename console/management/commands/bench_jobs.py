"""Benchmark every scheduled job on the data it runs on (issue 10): time and queries per batch.

Each django-q2 schedule that an app declares (``SCHEDULES`` in its ``schedules`` module) is run
the way the cluster runs it, inside a transaction that is rolled back at the end, so the
seeded database is the same after the benchmark as before and a second run measures the same
work. For each job it reports one whole run (normal settings) and ``--batches`` single batches
in a row (the batch budget set to 1, so every call is exactly one batch of the next due rows):
seconds and queries of each, the largest batch beside the target of 1 s.

    DATABASE_URL=postgres://…/proposals_scale manage.py bench_jobs
"""

import importlib
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, reset_queries, transaction
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils.module_loading import import_string

# One batch per call: the budget settings of every batched job.
ONE_BATCH = {"DELIVERY_JOB_MAX_BATCHES": 1, "RETENTION_MAX_BATCHES": 1}
TARGET_BATCH_SECONDS = 1.0


@contextmanager
def rolled_back() -> Iterator[None]:
    """A transaction that is always rolled back: the database is left as it was."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def scheduled_jobs() -> dict[str, str]:
    """Every schedule name → task path, from each installed app's ``schedules`` modules."""
    jobs: dict[str, str] = {}
    for config in apps.get_app_configs():
        for module_name in (
            f"{config.name}.schedules",
            f"{config.name}.delivery.schedules",
            f"{config.name}.outbox.schedules",  # common's one sweeper of every outbox kind
        ):
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError:
                continue
            for name, (task, *_timing) in getattr(module, "SCHEDULES", {}).items():
                jobs[name] = task
    return dict(sorted(jobs.items()))


def measure(job: Callable[[], object]) -> tuple[float, int, object]:
    """Seconds, queries and result of one call."""
    # The connection keeps at most 9,000 queries in its log; a long benchmark would overflow
    # it and count nothing.
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = job()
        seconds = time.perf_counter() - started
    statements = [q for q in queries.captured_queries if not q["sql"].startswith("SAVEPOINT")]
    statements = [q for q in statements if not q["sql"].startswith("RELEASE SAVEPOINT")]
    return seconds, len(statements), result


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser):
        parser.add_argument("--batches", type=int, default=5, help="single batches per job")
        parser.add_argument("--only", nargs="*", default=[], help="schedule names (prefixes)")

    def handle(self, *args, batches: int, only: list[str], **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_jobs measures PostgreSQL (set DATABASE_URL)")
        jobs = {
            name: task
            for name, task in scheduled_jobs().items()
            if not only or any(name.startswith(prefix) for prefix in only)
        }
        rows = []
        for name, task in jobs.items():
            func = import_string(task)
            # Both measure the same data: each in its own transaction, rolled back.
            with rolled_back(), override_settings(**ONE_BATCH):
                singles = [measure(func)[:2] for _ in range(batches)]
            with rolled_back():
                whole = measure(func)
            times = [s for s, _ in singles]
            counts = [n for _, n in singles]
            rows.append((name, whole, times, counts))
            self.stdout.write(
                f"{name}: run {whole[0]:.3f} s, {whole[1]} queries ({whole[2]!r}); batches "
                f"max {max(times):.3f} s, queries {min(counts)}–{max(counts)}"
            )
        self.stdout.write("")
        self.stdout.write(self.table(rows, batches=batches))

    def table(self, rows, *, batches: int) -> str:
        load = os.getloadavg()
        lines = [
            f"Load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
            f"batch size {settings.DELIVERY_JOB_BATCH_SIZE} (jobs), "
            f"{settings.DELIVERY_SWEEP_BATCH_SIZE} (sweeps), "
            f"{settings.RETENTION_BATCH_SIZE} (retention).",
            "",
            "| job | one run: s | queries | result | "
            f"{batches} batches in a row: max s | median s | queries per batch | ≤ 1 s |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, (seconds, queries, result), times, counts in rows:
            ok = "yes" if max(times) <= TARGET_BATCH_SECONDS else "**no**"
            spread = (
                f"{min(counts)}" if min(counts) == max(counts) else f"{min(counts)}–{max(counts)}"
            )
            lines.append(
                f"| {name} | {seconds:.3f} | {queries} | {result!r} | {max(times):.3f} | "
                f"{statistics.median(times):.3f} | {spread} | {ok} |"
            )
        return "\n".join(lines)
