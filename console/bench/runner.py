"""One benchmark run: the setup step, the server, the checks, the measuring and the report."""

# ruff: noqa: S603 - runs the project's own manage.py and gunicorn with arguments it builds.

import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

from console.bench.base import ADMIN_CONNECTIONS, BASE_DIR, FLOOR, BenchError
from console.bench.client import http_get, http_post
from console.bench.machine import (
    _die_with_parent,
    ensure_tools,
    machine_facts,
    redact_url,
    server_env,
)
from console.bench.measure import Measurer
from console.bench.results import (
    markdown_table,
    next_page_link,
    parse_connections,
    replace_between_markers,
)
from console.bench.targets import Target, build_targets, select_targets


class WebBench(Measurer):
    """``manage.py bench_web`` without the command: ``run(options)`` does the whole run."""

    def __init__(self, *, stdout, style) -> None:
        self.stdout, self.style = stdout, style

    def run(self, options: dict) -> None:
        duration = 3 if options["quick"] else options["duration"]
        connections = [1, 8] if options["quick"] else parse_connections(options["connections"])
        if duration < 1:
            raise BenchError("--duration must be at least 1 second")
        self.duration, self.connections = duration, connections
        self.port = options["port"]
        self.base = f"http://127.0.0.1:{self.port}"
        self.rate = options["webhook_rate"]
        self.raw_dir = Path(options["raw_dir"]) if options["raw_dir"] else None
        if self.raw_dir:
            self.raw_dir.mkdir(parents=True, exist_ok=True)
        self.deep_note = ""
        ensure_tools(self.stdout)
        self.tmp = Path(tempfile.mkdtemp(prefix="bench_web-"))
        self.env = server_env(options, self.port, self.tmp)
        self.server: subprocess.Popen | None = None
        self.state = None
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        started = datetime.now(UTC)
        try:
            self.stdout.write(f"Preparing {redact_url(options['database_url'])} (setup step)…")
            self.state = self._child_phase("setup")
            self._collectstatic()
            self._start_server(options["workers"], options["log_level"])
            deep = self._deep_path(options["deep_page"])
            targets = build_targets(self.state, deep)
            for target in targets:
                if target.name == "dash_list_deep" and self.deep_note:
                    target.description += f" ({self.deep_note})"
            if options["list"]:
                for t in targets:
                    self.stdout.write(f"{t.name:32} {t.description}")
                return
            targets = select_targets(targets, options["only"])
            self._check_targets(targets)
            self.stdout.write(self.style.SUCCESS(f"All {len(targets)} targets answer 200."))
            rows = self._measure(targets)
            table = markdown_table(rows)
            section = self._section(table, options, started, targets)
            self.stdout.write("\n" + section)
            if not options["no_write"]:
                path = Path(options["output"])
                text = path.read_text() if path.exists() else "# Benchmarks\n"
                path.write_text(
                    replace_between_markers(text, section, "## HTTP benchmark (`bench_web`)")
                )
                self.stdout.write(self.style.SUCCESS(f"Written to {path}"))
        finally:
            self._stop_server()
            if self.state is not None:
                with contextlib.suppress(Exception):
                    self._child_phase("cleanup", write_state=False)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _on_signal(self, signum, frame) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    def _child_phase(self, phase: str, write_state: bool = True) -> dict:
        state_file = self.tmp / "state.json"
        if phase == "cleanup":
            state_file.write_text(json.dumps(self.state))
        proc = subprocess.run(
            [
                sys.executable,
                str(BASE_DIR / "manage.py"),
                "bench_web",
                "--phase",
                phase,
                "--state-file",
                str(state_file),
            ],
            env=self.env,
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            raise BenchError(f"The {phase} step failed:\n{tail}")
        return json.loads(state_file.read_text()) if write_state else {}

    def _collectstatic(self) -> None:
        proc = subprocess.run(
            [sys.executable, str(BASE_DIR / "manage.py"), "collectstatic", "--noinput", "-v0"],
            env=self.env,
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0:
            raise BenchError(f"collectstatic failed:\n{proc.stderr[-2000:]}")

    def _start_server(self, workers: int, log_level: str) -> None:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        if not gunicorn.exists():
            raise BenchError(f"gunicorn not found next to {sys.executable}")
        self.server_log = self.tmp / "gunicorn.log"
        self.stdout.write(f"Starting gunicorn ({workers} sync workers) on {self.base}…")
        self.server = subprocess.Popen(
            [
                str(gunicorn),
                "config.wsgi:application",
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
                "--log-level",
                "warning",
            ],
            env=self.env,
            cwd=BASE_DIR,
            stdout=self.server_log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise BenchError(f"gunicorn exited:\n{self._server_log_tail()}")
            with contextlib.suppress(OSError):
                status, _, _ = http_get(self.base + "/healthz", timeout=2)
                if status == 200:
                    return
            time.sleep(0.3)
        raise BenchError(f"gunicorn did not answer /healthz in 60 s:\n{self._server_log_tail()}")

    def _server_log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.server_log.read_text().splitlines()[-20:])
        return ""

    def _stop_server(self) -> None:
        if self.server is None or self.server.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.server.pid, signal.SIGTERM)
        try:
            self.server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.server.pid, signal.SIGKILL)
            self.server.wait(timeout=5)

    def _deep_path(self, deep_page: int) -> str | None:
        """Page ``deep_page`` of the biggest business's list, by the dashboard's own links."""
        headers = self._headers("session:biggest")
        path, page = "/app/", 1
        status, body, _ = http_get(self.base + path, headers=headers)
        if status != 200:
            return None  # reported by the 200 check of dash_list
        link = next_page_link(body)
        if link is None:
            self.stdout.write("Dashboard list has a single page: no deep page to measure.")
            return None
        query = parse_qs(urlsplit(link).query)
        if list(query) == ["page"] or ("page" in query and "cursor" not in query):
            # Numbered pages: the link the dashboard prints on page deep_page - 1.
            self.deep_note = f"page={deep_page} (numbered pages)"
            return urljoin(path, link.replace(f"page={query['page'][0]}", f"page={deep_page}"))
        started = time.monotonic()
        while link is not None and page < deep_page:
            path = urljoin(path, link)
            status, body, _ = http_get(self.base + path, headers=headers, timeout=60)
            if status != 200:
                raise BenchError(f"Following the dashboard's next link gave {status}: {path}")
            page += 1
            link = next_page_link(body)
        self.deep_note = f"page {page}, reached through the dashboard's own next links"
        self.stdout.write(
            f"Deep page: page {page} reached through its links in "
            f"{time.monotonic() - started:.1f} s"
        )
        return path

    def _check_targets(self, targets: list[Target]) -> None:
        """Every target must answer 200 before anything is measured (a 302 measures nothing)."""
        failures = []
        for target in [Target(FLOOR, self._floor_path()), *targets]:
            if target.kind.startswith("webhook"):
                body = self._bodies(1)[0]
                status, text, headers = http_post(self.base + target.path, body)
                if status != 200 or "accepted" not in text:
                    failures.append(f"{target.name}: {status} {text[:200]}")
                continue
            status, text, headers = http_get(
                self.base + target.path, headers=self._headers(target.auth), timeout=120
            )
            if status != 200:
                where = headers.get("Location", "") if headers else ""
                failures.append(f"{target.name} {target.path}: {status} {where} {text[:200]}")
        if failures:
            raise BenchError(
                "These targets do not answer 200, so nothing was measured:\n  "
                + "\n  ".join(failures)
                + f"\nServer log:\n{self._server_log_tail()}"
            )

    # -- the report -----------------------------------------------------------------------
    def _section(self, table: str, options: dict, started: datetime, targets: list[Target]) -> str:
        facts = machine_facts(options["database_url"])
        big, typ = self.state["biggest"], self.state["typical"]
        argv = " ".join(a for a in sys.argv[1:] if not a.startswith("--phase"))
        lines = [
            f"Run of {started:%Y-%m-%d %H:%M} UTC, commit `{facts['commit']}`: "
            f"`python manage.py {argv}`",
            "",
            f"- Machine: {facts['nproc']} CPUs ({facts['cpu']}), {facts['ram']} RAM; "
            f"PostgreSQL {facts['postgres']}; Python {platform.python_version()}, "
            f"Django {facts['django']}; gunicorn {options['workers']} sync workers; "
            f"load average at the start {facts['loadavg']}.",
            f"- Data: {self.state['totals']['proposals']:,} proposals, "
            f"{self.state['totals']['businesses']:,} businesses. "
            f"Biggest business #{big['id']} ({big['proposals']} proposals, {big['clients']} "
            f"clients); typical business #{typ['id']} ({typ['proposals']} proposals).",
            f"- {self.duration} s per step; connections {', '.join(map(str, self.connections))}"
            f" (admin pages at {' and '.join(map(str, ADMIN_CONNECTIONS))} only). Each row's "
            "floor was measured right before it at the same connection count; × floor = "
            "req/s ÷ floor req/s. The fixed-rate webhook row compares latency with the floor "
            "at the same rate instead.",
            "",
            table,
            "",
            "Targets: " + "; ".join(f"`{t.name}` {t.description}" for t in targets) + ".",
        ]
        return "\n".join(lines)
