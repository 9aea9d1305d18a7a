"""``manage.py seed_scale``: production-size data in PostgreSQL, set-based and resumable."""

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from console import seeding


class Command(BaseCommand):
    help = (
        "Fill the database with realistic, skewed data at production size (130,000 businesses, "
        "2.1M proposals, 10.6M activity rows, 2.7M deliveries) with INSERT … SELECT. Each phase "
        "commits on its own and is recorded: run it again after an interruption to continue. "
        "PostgreSQL only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        size = parser.add_mutually_exclusive_group()
        size.add_argument(
            "--businesses",
            type=int,
            help=f"Number of businesses (default {seeding.FULL_BUSINESSES:,}); everything else "
            "scales with it, keeping one big business.",
        )
        size.add_argument(
            "--scale",
            type=float,
            help="Share of the full size, e.g. 0.1 for 13,000 businesses.",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=3,
            help="Phases (and index builds) run at once, each on its own connection (default 3).",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Empty the seeded tables (TRUNCATE) and start over.",
        )

    def handle(self, *args, **options) -> None:
        if connection.vendor != "postgresql":
            raise CommandError(
                "seed_scale needs PostgreSQL (it generates rows with generate_series and "
                "PostgreSQL functions); set DATABASE_URL=postgres://…"
            )
        businesses = options["businesses"]
        if options["scale"] is not None:
            businesses = round(seeding.FULL_BUSINESSES * options["scale"])
        businesses = businesses or seeding.FULL_BUSINESSES
        if businesses < 1:
            raise CommandError("--businesses must be at least 1.")
        seeding.set_session(connection)
        try:
            self._seed(businesses, reset=options["reset"], workers=options["workers"])
        finally:
            seeding.reset_session(connection)

    def _seed(self, businesses: int, *, reset: bool, workers: int) -> None:
        started = time.monotonic()
        with connection.cursor() as cursor:
            if reset:
                seeding.reset(cursor)
                self.stdout.write("reset: seeded tables emptied")
            try:
                params = seeding.prepare(cursor, businesses=businesses, workers=workers)
            except seeding.SeedError as exc:
                raise CommandError(str(exc)) from None
            done = seeding.finished_phases(cursor)
        self.stdout.write(f"seed_scale: {businesses:,} businesses, now = {params['now']}")
        for unit in (unit for phase in seeding.PHASES for unit in phase.units()):
            if unit.name in done:
                rows, seconds = done[unit.name]
                self.stdout.write(f"  {unit.name:<22} {rows:>14,} rows {seconds:>8.1f} s (before)")

        def report(phase: seeding.Phase, rows: int, seconds: float) -> None:
            elapsed = time.monotonic() - started
            self.stdout.write(
                f"  {phase.name:<22} {rows:>14,} rows {seconds:>8.1f} s   (at {elapsed:6.1f} s)"
            )
            self.stdout.flush()

        try:
            seeding.run_all(params, set(done), report)
        except seeding.SeedError as exc:
            raise CommandError(str(exc)) from None
        with connection.cursor() as cursor:
            meta = seeding.read_meta(cursor)
        self.stdout.write(f"finished in {time.monotonic() - started:.1f} s")
        self.stdout.write(
            f"biggest business: id {meta['biggest_business_id']}, "
            f"owner {meta['biggest_owner_email']}\n"
            f"typical business: id {meta['typical_business_id']}, "
            f"owner {meta['typical_owner_email']}\n"
            f"staff superuser: {meta['bench_admin_email']}\n"
            f"password of all three: {meta['password']}\n"
            f"(also in the table {seeding.SCHEMA}.meta)"
        )
