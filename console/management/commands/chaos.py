"""``manage.py chaos`` (``make chaos``): the fault matrix of issue 12 as one command.

It makes a PostgreSQL cluster of its own (initdb in a temporary directory, a free port),
migrates it, and runs itself again (``--inner``) with the product's production environment
pointed at it: that process starts gunicorn, two django-q2 clusters, the Wix stand-in and the
switchable SMTP server, drives proposals through create → send → view → accept or decline via
the REST API and the client page, injects each fault in turn and counts what came out. It
prints the table, writes it to docs/reliability.md and exits non-zero when a target is missed.

    manage.py chaos                 # 2,000 proposals, time scale 0.1 (the outage: 60 s)
    manage.py chaos --quick         # a few minutes (CI)
    manage.py chaos --soak 30m      # mixed load at a steady rate; errors, memory start/end

Everything it starts runs in its own process group and is killed on exit, Ctrl-C included.
"""

# ruff: noqa: S603 - runs the project's own manage.py

import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from common import benchkit

BASE_DIR = Path(settings.BASE_DIR)
REPORT = BASE_DIR / "docs" / "reliability.md"
DEFAULT_CACHE_URL = "redis://127.0.0.1:6379/11"
# A phase lasts at least phase_seconds of load, so a fault meets work already in flight.
QUICK = {"count": 150, "rate": 3.0, "time_scale": 0.05, "phase_seconds": 8.0}
FULL = {"count": 2000, "rate": 5.0, "time_scale": 0.1, "phase_seconds": 20.0}
# The soak's load and the whole product share 2 cores: at 5 ticks/s the load falls behind its
# own schedule; at 3 it keeps it (docs/reliability.md, "The last soak").
SOAK = {**FULL, "rate": 3.0}
TARGETS_MISSED = 3


def parse_duration(text: str) -> float:
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text or "")
    if not found:
        raise CommandError(f"--soak takes a duration such as 30m, 90s or 1h (got {text!r})")
    return float(found.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[found.group(2)]


class Command(BaseCommand):
    help = "Run the product through every fault of issue 12 and count what came out."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--count", type=int, default=None, help="proposals (default 2,000)")
        parser.add_argument("--quick", action="store_true", help="a few minutes (CI)")
        parser.add_argument("--soak", default=None, help="mixed load for this long, e.g. 30m")
        parser.add_argument("--rate", type=float, default=None, help="proposals a second")
        parser.add_argument(
            "--time-scale",
            type=float,
            default=None,
            help="the product's waiting times and the 10-minute outage multiplied by this",
        )
        parser.add_argument("--recovery-timeout", type=float, default=240.0)
        parser.add_argument("--phase-seconds", type=float, default=None)
        parser.add_argument("--web-workers", type=int, default=3)
        parser.add_argument("--cache-url", default=DEFAULT_CACHE_URL)
        parser.add_argument("--only", default="", help="comma-separated fault names (debug)")
        parser.add_argument("--no-report", action="store_true", help="do not write the doc")
        parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
        parser.add_argument("--inner", default="", help=argparse_hidden())

    def handle(self, *args, **options) -> None:
        for key, value in presets(options).items():
            if options[key] is None:
                options[key] = value
        if options["count"] < 1 or options["rate"] <= 0 or not 0 < options["time_scale"] <= 1:
            raise CommandError("--count ≥ 1, --rate > 0 and 0 < --time-scale ≤ 1")
        options["soak_seconds"] = parse_duration(options["soak"]) if options["soak"] else 0
        if options["inner"]:
            from console.chaos.main import inner

            sys.exit(inner(options, stdout=self.stdout))
        sys.exit(self.outer(options))

    # -- the outer process: PostgreSQL of its own, then the run in the product's environment --
    def outer(self, options: dict) -> int:
        from console.chaos.postgres import OwnPostgres, PostgresError
        from console.chaos.stack import Ports, product_env

        tmp = Path(tempfile.mkdtemp(prefix="chaos-"))
        tmp.chmod(0o755)  # the postgres user reaches its directory through it
        postgres = OwnPostgres(root=tmp / "pg", port=benchkit.free_port())
        inner = None
        interrupted = False

        def stop(signum, frame):
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        try:
            self.stdout.write(f"Own PostgreSQL on port {postgres.port} in {tmp / 'pg'}…")
            postgres.init()
            postgres.start()
            ports = Ports()
            env = product_env(
                database_url=postgres.url,
                cache_url=options["cache_url"],
                ports=ports,
                tmp=tmp,
                scale=options["time_scale"],
                base_dir=BASE_DIR,
            )
            env.update(
                CHAOS_PG_ROOT=str(postgres.root),
                CHAOS_PG_PORT=str(postgres.port),
                CHAOS_COMMAND=command_line(options),
            )
            self._flush_cache(options["cache_url"])
            for step in (["migrate", "--noinput", "-v0"], ["createcachetable"]):
                done = subprocess.run(
                    benchkit.manage_py(BASE_DIR, *step),
                    env=env,
                    cwd=BASE_DIR,
                    capture_output=True,
                    text=True,
                    timeout=900,
                )
                if done.returncode != 0:
                    raise CommandError(f"{step[0]} failed:\n{done.stderr[-3000:]}")
            argv = [a for a in sys.argv[1:] if a != "--keep"]
            inner = subprocess.Popen(
                [sys.executable, str(BASE_DIR / "manage.py"), *argv, "--inner", str(tmp)],
                env=env,
                cwd=BASE_DIR,
            )
            return inner.wait()
        except KeyboardInterrupt:
            interrupted = True
            self.stderr.write("Interrupted: stopping everything the run started…")
            return 130
        except PostgresError as exc:
            raise CommandError(str(exc)) from None
        finally:
            if inner is not None and inner.poll() is None:
                inner.send_signal(signal.SIGTERM if not interrupted else signal.SIGINT)
                try:
                    inner.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    inner.kill()
            postgres.stop()
            self._flush_cache(options["cache_url"])
            if options["keep"]:
                self.stdout.write(f"Kept {tmp} (logs of every process)")
            else:
                postgres.remove()
                shutil.rmtree(tmp, ignore_errors=True)

    @staticmethod
    def _flush_cache(cache_url: str) -> None:
        """The run's own Redis database starts and ends empty (breakers, drain flags, limits)."""
        if not cache_url.startswith("redis://"):
            return
        import redis

        try:
            redis.Redis.from_url(cache_url, socket_timeout=5).flushdb()
        except redis.RedisError as exc:
            raise CommandError(f"Redis at {cache_url} is needed: {exc}") from None


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


def presets(options: dict) -> dict:
    return QUICK if options["quick"] else SOAK if options["soak"] else FULL


def command_line(options: dict) -> str:
    parts = ["make chaos"]
    args = []
    if options["quick"]:
        args.append("--quick")
    if options["soak"]:
        args.append(f"--soak {options['soak']}")
    defaults = presets(options)
    for key in ("count", "rate", "time_scale"):
        if options[key] != defaults[key]:
            args.append(f"--{key.replace('_', '-')} {options[key]:g}")
    if args:
        parts.append(f'CHAOS_ARGS="{" ".join(args)}"')
    return " ".join(parts)
