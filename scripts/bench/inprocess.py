"""In-process web benchmark: each target beside the floor view, in one process, relative.

``manage.py bench_web`` measures the real server (gunicorn + wrk) and is what docs/benchmarks.md
reports. This script is the quick, repeatable loop for working on one page: it drives the WSGI
application itself (no sockets, no other processes), each target request right after a floor
request, and prints the mean / p50 / p95 per request and the ratio to the floor, optionally with a
cProfile of a target or the SQL one request makes.

    .venv/bin/python scripts/bench/inprocess.py --only dash_ client_page -n 200
    .venv/bin/python scripts/bench/inprocess.py --only api_detail --profile api_detail
    .venv/bin/python scripts/bench/inprocess.py --only dash_detail --queries

- Settings are production's, built by ``bench_web``'s own ``server_env()`` (this script re-runs
  itself with that environment), on ``--database-url`` (the seeded database by default).
- Everything — the benchmark's sessions and API keys (``bench_web``'s setup step), the view
  records the client page writes — happens inside one transaction that is rolled back at the
  end: nothing is left in the database. As in ``django.test.Client``, the per-request
  ``close_old_connections`` is switched off (it would end that transaction); floor and target
  alike skip it.
- Production logs (INFO, JSON per request) are written, as in production, to ``--log-file``.
- Machine-wide noise moves floor and target alike; compare ratios, not milliseconds.
"""

# ruff: noqa: T201, S606 - a command-line tool that prints its report and re-runs itself

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

BASE_DIR = Path(__file__).resolve().parents[2]
CHILD_FLAG = "INPROCESS_BENCH_CHILD"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/proposals_scale"
DEFAULT_CACHE_URL = "redis://127.0.0.1:6379/6"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--cache-url", default=DEFAULT_CACHE_URL)
    parser.add_argument(
        "--only", nargs="*", default=["dash_", "client_page"], help="target names; 'x_' = prefix"
    )
    parser.add_argument("-n", "--requests", type=int, default=200, help="per target (and floor)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--deep-page", type=int, default=1000)
    parser.add_argument("--profile", action="append", default=[], help="cProfile this target")
    parser.add_argument("--profile-lines", type=int, default=45)
    parser.add_argument("--queries", action="store_true", help="print each target's SQL")
    parser.add_argument(
        "--timer",
        action="append",
        default=[],
        metavar="MODULE:ATTR",
        help="time this callable (e.g. django.template.base:Template.render): mean ms per request",
    )
    parser.add_argument(
        "--extra",
        action="append",
        default=[],
        metavar="NAME=AUTH:PATH",
        help="one more target, e.g. sent=session:biggest:/app/?status=sent (AUTH may be empty)",
    )
    parser.add_argument("--save-html", metavar="DIR", help="write each target's body to DIR")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--log-file", default=None)
    parser.add_argument("--list", action="store_true")
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args(sys.argv[1:])
    if os.environ.get(CHILD_FLAG) != "1":
        os.execve(sys.executable, [sys.executable, __file__, *sys.argv[1:]], _server_env(args))
    run(args)


def _server_env(args: argparse.Namespace) -> dict:
    """``bench_web``'s environment for the server (loaded with development settings to read it)."""
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from console.bench.machine import server_env

    tmp = Path(tempfile.mkdtemp(prefix="inprocess-"))
    env = server_env(
        {
            "database_url": args.database_url,
            "cache_url": args.cache_url,
            "log_level": args.log_level,
        },
        80,
        tmp,
    )
    env[CHILD_FLAG] = "1"
    env["PYTHONPATH"] = str(BASE_DIR)
    return env


class App:
    """The WSGI application, called as a server would, one request at a time."""

    def __init__(self, application) -> None:
        self.application = application

    def get(self, path: str, headers: dict) -> tuple[int, bytes, dict]:
        parts = urlsplit(path)
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_USER_AGENT": "inprocess-bench",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        for name, value in headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        answer: dict = {}

        def start_response(status, response_headers, exc_info=None):
            answer["status"] = int(status.split()[0])
            answer["headers"] = dict(response_headers)

        result = self.application(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        return answer["status"], body, answer["headers"]


def _headers(state: dict, auth: str) -> dict:
    if auth.startswith("api:"):
        return {"Authorization": f"Bearer {state[auth[4:]]['api_key']}"}
    if auth.startswith("session:"):
        return {"Cookie": f"sessionid={state[auth[8:]]['session']}"}
    if auth == "staff":
        return {"Cookie": f"sessionid={state['staff_session']}"}
    return {}


def _deep_path(app: App, state: dict, deep_page: int) -> str | None:
    from console.bench.results import next_page_link

    headers = _headers(state, "session:biggest")
    path, page = "/app/", 1
    status, body, _ = app.get(path, headers)
    link = next_page_link(body.decode()) if status == 200 else None
    while link is not None and page < deep_page:
        path = urljoin(path, link)
        status, body, _ = app.get(path, headers)
        if status != 200:
            raise SystemExit(f"Following the dashboard's next link gave {status}: {path}")
        page += 1
        link = next_page_link(body.decode())
    print(f"deep page: page {page} of the biggest business, through its own next links")
    return path if page > 1 else None


def _select(targets: list, only: list[str]) -> list:
    chosen = []
    for target in targets:
        if target.kind != "get":
            continue
        if any(target.name == o or (o.endswith("_") and target.name.startswith(o)) for o in only):
            chosen.append(target)
    return chosen


class Timers:
    """Wall time inside a few named callables (not nested in themselves), per request.

    Unlike cProfile it adds ~1 µs per call, so it shows what a part really costs.
    """

    def __init__(self, specs: list[str]) -> None:
        import importlib

        self.totals: dict[str, float] = {spec: 0.0 for spec in specs}
        self.active = False
        for spec in specs:
            module_name, _, attr = spec.partition(":")
            owner = importlib.import_module(module_name)
            *path, name = attr.split(".")
            for part in path:
                owner = getattr(owner, part)
            setattr(owner, name, self._wrap(spec, getattr(owner, name)))

    def _wrap(self, spec: str, func):
        import functools

        depth = [0]

        @functools.wraps(func)
        def timed(*args, **kwargs):
            if not self.active or depth[0]:
                return func(*args, **kwargs)
            depth[0] += 1
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.totals[spec] += time.perf_counter() - started
                depth[0] -= 1

        return timed


def _ms(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.fmean(values) * 1000, statistics.median(values) * 1000, p95 * 1000


def run(args: argparse.Namespace) -> None:
    log_file = args.log_file or os.path.join(tempfile.gettempdir(), f"inprocess-{os.getpid()}.log")
    log_fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log_fd, 2)  # production's request logs (and any traceback) go to the file

    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()  # logging is set up on the file
    sys.stderr = sys.stdout  # this script's own errors stay on the screen
    # Production serves the manifest of hashed files, as bench_web does before its run.
    call_command("collectstatic", interactive=False, verbosity=0)

    from django.core import signals
    from django.db import close_old_connections, connection, transaction
    from django.test.utils import CaptureQueriesContext

    from config.bench_urls import FLOOR_PATH
    from console.bench import setup as _bench_setup
    from console.bench.targets import Target, build_targets

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    app = App(application)
    with transaction.atomic():
        state = _bench_setup.setup()
        wants_deep = any(o in ("dash_list_deep", "dash_", "dash_list_") for o in args.only)
        deep = _deep_path(app, state, args.deep_page) if wants_deep else None
        all_targets = build_targets(state, deep)
        for extra in args.extra:
            name, _, rest = extra.partition("=")
            kind, _, rest = rest.partition(":")
            label, _, path = rest.partition(":") if kind in ("session", "api") else ("", "", rest)
            auth = f"{kind}:{label}" if label else kind
            all_targets.append(Target(name, path, auth))
            args.only.append(name)
        if args.list:
            for target in all_targets:
                print(f"{target.name:40} {target.path}")
            transaction.set_rollback(True)
            return
        targets = _select(all_targets, args.only)
        if not targets:
            raise SystemExit(f"No target matches {args.only} (--list shows them)")
        floor = Target("floor", f"/{FLOOR_PATH}?pk={state['biggest']['id']}")
        plan = [(t, _headers(state, t.auth)) for t in targets]
        for target, headers in [(floor, {}), *plan]:
            status, body, _ = app.get(target.path, headers)
            if status != 200:
                raise SystemExit(f"{target.name} {target.path} answered {status}: {body[:300]!r}")
            if args.save_html:
                Path(args.save_html).mkdir(parents=True, exist_ok=True)
                (Path(args.save_html) / f"{target.name}.html").write_bytes(body)
            if args.queries:
                with CaptureQueriesContext(connection) as queries:
                    app.get(target.path, headers)
                print(f"\n-- {target.name}: {len(queries)} queries, {len(body):,} bytes")
                for query in queries.captured_queries:
                    print(f"  [{float(query['time']) * 1000:6.2f} ms] {query['sql'][:300]}")
        for _ in range(args.warmup):
            for target, headers in [(floor, {}), *plan]:
                app.get(target.path, headers)
        profiles = {name: cProfile.Profile() for name in args.profile}
        timers: dict[str, dict[str, float]] = {}
        if args.timer:
            shared = Timers(args.timer)
            timers = {t.name: dict.fromkeys(args.timer, 0.0) for t in targets}
        times: dict[str, list[float]] = {t.name: [] for t in targets}
        floor_times: dict[str, list[float]] = {t.name: [] for t in targets}
        clock = time.perf_counter
        for _ in range(args.requests):
            for target, headers in plan:
                started = clock()
                app.get(floor.path, {})
                floor_times[target.name].append(clock() - started)
                profile = profiles.get(target.name)
                if profile is not None:
                    profile.enable()
                if args.timer:
                    before = dict(shared.totals)
                    shared.active = True
                started = clock()
                app.get(target.path, headers)
                times[target.name].append(clock() - started)
                if args.timer:
                    shared.active = False
                    for spec, total in shared.totals.items():
                        timers[target.name][spec] += total - before[spec]
                if profile is not None:
                    profile.disable()
        transaction.set_rollback(True)

    print(
        f"\n{args.requests} requests per target, each right after a floor request; "
        f"load average {open('/proc/loadavg').read().split()[:3]}"
    )
    head = f"{'target':24} {'mean':>8} {'p50':>8} {'p95':>8}   {'floor mean':>10} {'p95':>7}"
    print(f"{head}  × floor")
    for target in targets:
        mean, p50, p95 = _ms(times[target.name])
        fmean, _, fp95 = _ms(floor_times[target.name])
        print(
            f"{target.name:24} {mean:7.2f}ms {p50:7.2f}ms {p95:7.2f}ms   "
            f"{fmean:8.2f}ms {fp95:6.2f}ms  {fmean / mean:.2f}×"
        )
    for target in targets if args.timer else []:
        print(f"\n-- {target.name}: mean ms per request inside")
        for spec, total in timers[target.name].items():
            print(f"  {total / args.requests * 1000:7.2f} ms  {spec}")
    for name, profile in profiles.items():
        for key in ("cumulative", "tottime"):
            out = io.StringIO()
            stats = pstats.Stats(profile, stream=out)
            stats.sort_stats(key).print_stats(args.profile_lines)
            print(f"\n== profile of {name}, by {key} ==")
            print(out.getvalue())
    print(f"(logs: {log_file})")


if __name__ == "__main__":
    main()
