"""HTTP benchmark: gunicorn with production settings on a seeded database, measured by wrk.

Every target is measured right after the floor view (``config.bench_urls``: the middleware
stack, one primary-key SELECT, a tiny response) at the same connection count, in one run, and
reported as a ratio to it. Webhook ingest is also measured at a fixed rate (200/s, wrk paced by
``scripts/bench/load.lua``), because Wix delivers at its own pace. See docs/benchmarks.md
("HTTP benchmark").

The command itself never touches the benchmark database through its own settings: the setup
and cleanup steps run as child processes (``--phase``) with exactly the environment gunicorn
gets, so sessions and API keys are made with the server's SECRET_KEY and database.

The work is in the ``console.bench`` package; this module is the command line.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand

from console.bench.base import BASE_DIR, DEFAULT_CACHE_URL, DEFAULT_DATABASE_URL
from console.bench.runner import WebBench


class Command(BaseCommand):
    help = (
        "HTTP benchmark: gunicorn (production settings) on a seeded database, every target "
        "measured beside a floor view with wrk (paced for the fixed-rate webhook step); "
        "writes the table into docs/benchmarks.md."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
        parser.add_argument(
            "--cache-url",
            default=DEFAULT_CACHE_URL,
            help="Redis for the server's cache (a database of its own).",
        )
        parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
        parser.add_argument("--port", type=int, default=8900)
        parser.add_argument("--duration", type=int, default=10, help="seconds per step")
        parser.add_argument("--connections", default="1,8,32")
        parser.add_argument(
            "--quick", action="store_true", help="3 s steps at 1 and 8 connections (a smoke run)"
        )
        parser.add_argument(
            "--only",
            nargs="+",
            default=None,
            metavar="TARGET",
            help="target names (or prefixes, e.g. admin_); see --list",
        )
        parser.add_argument("--list", action="store_true", help="list the targets and exit")
        parser.add_argument(
            "--deep-page",
            type=int,
            default=1000,
            help="the deep dashboard page (followed through its own links)",
        )
        parser.add_argument("--webhook-rate", type=int, default=200)
        parser.add_argument(
            "--log-level",
            default="INFO",
            help="the server's LOG_LEVEL (production logs INFO, as JSON)",
        )
        parser.add_argument("--raw-dir", help="keep every wrk output in this folder (debugging)")
        parser.add_argument("--output", default=str(BASE_DIR / "docs" / "benchmarks.md"))
        parser.add_argument(
            "--no-write",
            action="store_true",
            help="print the table only; leave docs/benchmarks.md alone",
        )
        parser.add_argument("--phase", choices=["setup", "cleanup"], help=argparse_suppress())
        parser.add_argument("--state-file", help=argparse_suppress())

    # -- child phases (run with the server's environment) --------------------------------
    def handle(self, *args, **options) -> None:
        if options["phase"] == "setup":
            return self._phase_setup(Path(options["state_file"]))
        if options["phase"] == "cleanup":
            return self._phase_cleanup(Path(options["state_file"]))
        return WebBench(stdout=self.stdout, style=self.style).run(options)

    def _phase_setup(self, state_file: Path) -> None:
        from console.bench import setup as _bench_setup

        state = _bench_setup.setup()
        state_file.write_text(json.dumps(state))

    def _phase_cleanup(self, state_file: Path) -> None:
        from console.bench import setup as _bench_setup

        _bench_setup.cleanup(json.loads(state_file.read_text()))


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS
