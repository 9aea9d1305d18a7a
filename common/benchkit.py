"""Plumbing for the outbox benchmarks (``manage.py bench_deliveries``): no app imported here.

A *suite* measures one queue kind (deliveries, contact syncs, webhook receipts). It lives in
its app's ``bench.py`` and registers itself here (``register``); the command finds them with
``autodiscover_modules("bench")``, so ``common`` and ``proposals`` import nothing of the apps
whose queues they time. Each suite provides:

- ``floor(count)``: the same work done by a plain loop, no database, no queue → seconds;
- ``record(step, indexes)``: record items the way production does, inside the caller's
  transaction (one transaction per chunk in a burst, per item when paced);
- ``progress(step)`` → (finished, total recorded); ``timings(step)`` → (recorded, finished)
  datetimes per finished item; ``server_check(step)`` → what the remote side saw (duplicates,
  lost); ``cluster_env()`` → the environment the workers need (ports of the local servers).

The runner starts a real ``manage.py qcluster`` for each pipeline step, so the workers,
their broker (the ORM broker on the same PostgreSQL database) and django-q2's bookkeeping are
the production ones.
"""

# ruff: noqa: S603, S607 - starts the project's own processes (qcluster, servers) and git

import contextlib
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Self

# Suites are duck-typed (the methods listed above), so their classes are ``type[Any]``.
SUITES: dict[str, type[Any]] = {}


def register(name: str) -> Callable[[type[Any]], type[Any]]:
    """Class decorator: make a suite available to the bench command under ``name``."""

    def wrap(cls: type[Any]) -> type[Any]:
        SUITES[name] = cls
        cls.name = name
        return cls

    return wrap


# --- numbers ----------------------------------------------------------------------------------
def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (the value at or below which ``pct``% of ``values`` lie)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def latency_summary(pairs: Iterable[tuple[datetime, datetime]]) -> dict:
    """p50/p95/p99/max in milliseconds of ``finished - recorded``, plus the window they span."""
    pairs = list(pairs)
    if not pairs:
        return {"p50": None, "p95": None, "p99": None, "max": None, "first": None, "last": None}
    latencies = [(done - recorded).total_seconds() * 1000 for recorded, done in pairs]
    return {
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
        "max": max(latencies),
        "first": min(recorded for recorded, _ in pairs),
        "last": max(done for _, done in pairs),
    }


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.0f} ms"


# --- the machine ------------------------------------------------------------------------------
def load_average() -> str:
    """The 1, 5 and 15-minute load averages, "1.23 0.98 0.50" ("?" off Linux)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def machine_facts(*, base_dir: Path, versions: dict[str, str]) -> dict[str, str]:
    """What a reader needs to compare two runs: cores, CPU, memory, versions, commit."""
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError):
        names = [
            line.partition(":")[2].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    memory = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        total_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{total_kb / 1024**2:.1f} GiB"

    def git(*args: str) -> str:
        try:
            out = subprocess.run(
                ["git", *args], cwd=base_dir, capture_output=True, text=True, timeout=20
            )
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return out.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "?"
    if git("status", "--porcelain", "--untracked-files=no"):
        commit += " + uncommitted changes"
    return {
        "cores": str(os.cpu_count()),
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        **versions,
        "commit": commit,
        "load average at the start": load_average(),
    }


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux /proc), to tell a cluster's workers from strangers."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid …": comm may hold spaces and parentheses.
        ppid = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _terminate_with_parent() -> None:
    """In a child: SIGTERM when the bench dies, even by SIGKILL (Linux PR_SET_PDEATHSIG)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))


# --- child processes --------------------------------------------------------------------------
@dataclass
class Child:
    """A process the bench started (cluster, stand-in, SMTP sink), in its own session."""

    argv: list[str]
    env: dict[str, str]
    log_path: Path
    cwd: Path
    process: subprocess.Popen | None = None

    def start(self) -> Self:
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_terminate_with_parent,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self, grace: float = 30.0) -> None:
        """SIGTERM the process (a cluster stops its own workers), then SIGKILL what is left."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left of the session (a worker the sentinel was still reincarnating).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage_py(base_dir: Path, *args: str) -> list[str]:
    return [sys.executable, str(base_dir / "manage.py"), *args]


class Cluster(Child):
    """``manage.py qcluster`` with ``workers`` processes.

    Its processes are found through /proc (sentinel, pusher, monitor and the workers are all
    below the qcluster process), not through django-q2's status record, which lives in the
    cache: a per-process cache (tests) would hide it.
    """

    workers: int = 0

    @classmethod
    def create(cls, *, base_dir: Path, env: dict, workers: int, log_path: Path) -> "Cluster":
        cluster = cls(
            argv=manage_py(base_dir, "qcluster"),
            env={**env, "Q_WORKERS": str(workers)},
            log_path=log_path,
            cwd=base_dir,
        )
        cluster.workers = workers
        return cluster

    def processes(self) -> set[int]:
        return descendants(self.pid) if self.alive() else set()

    def ready(self, *, timeout: float = 90.0) -> None:
        """Wait until the sentinel, pusher, monitor and every worker run, for half a second."""
        deadline = time.monotonic() + timeout
        since = None
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"qcluster exited:\n{self.log_tail()}")
            if len(self.processes()) >= self.workers + 3:
                since = since or time.monotonic()
                if time.monotonic() - since >= 0.5:
                    return
            else:
                since = None
            time.sleep(0.1)
        raise RuntimeError(f"qcluster not ready after {timeout:.0f} s:\n{self.log_tail()}")


def wait_until(condition: Callable[[], bool], *, timeout: float, every: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


# --- results ------------------------------------------------------------------------------------
@dataclass
class StepResult:
    """One measured step: a floor or a pipeline run."""

    queue: str
    step: str  # "floor", "burst", "paced", "kill"
    workers: int | None
    count: int
    seconds: float
    load: str
    latency: dict = field(default_factory=dict)
    floor_per_second: float | None = None  # the floor measured beside this step
    duplicates: int | None = None
    repeats_before_kill: int | None = None
    lost: int | None = None
    failed: int | None = None
    offered_rate: float | None = None
    record_seconds: float | None = None  # how long recording took (paced: the achieved rate)
    notes: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def ratio(self) -> float | None:
        if self.step == "floor" or not self.floor_per_second or self.offered_rate:
            return None
        return self.per_second / self.floor_per_second

    def label(self) -> str:
        if self.step == "floor":
            return f"floor, {self.count:,}"
        if self.step == "paced":
            return f"paced {self.offered_rate:g}/s, {self.count:,}"
        if self.step == "kill":
            return f"burst, {self.count:,}, a worker SIGKILLed mid-batch"
        return f"burst, {self.count:,}"


COLUMNS = (
    "queue",
    "run",
    "workers",
    "items/s",
    "× floor",
    "p50",
    "p95",
    "p99",
    "max",
    "duplicates",
    "lost",
    "load avg",
)


def table_row(result: StepResult) -> list[str]:
    lat = result.latency
    duplicates = "—" if result.duplicates is None else str(result.duplicates)
    if result.repeats_before_kill:
        duplicates += f" (+{result.repeats_before_kill} accepted before the kill, same Message-ID)"
    lost = "—" if result.lost is None else str(result.lost)
    if result.failed:
        lost += f" ({result.failed} failed)"
    rate = f"{result.per_second:.1f}"
    if result.offered_rate:
        # Kept up: done as fast as recorded. Recording itself may fall behind the offered rate
        # on a loaded machine; then that is said too.
        recorded = result.offered_rate
        if result.record_seconds:
            recorded = min(recorded, result.count / result.record_seconds)
        rate += " (kept up)" if result.per_second >= 0.97 * recorded else " (saturated)"
        if recorded < 0.97 * result.offered_rate:
            rate += f", recorded at {recorded:.0f}/s"
    return [
        result.queue,
        result.label(),
        "—" if result.workers is None else str(result.workers),
        rate,
        "—" if result.ratio is None else f"{result.ratio:.2f}",
        fmt_ms(lat.get("p50")),
        fmt_ms(lat.get("p95")),
        fmt_ms(lat.get("p99")),
        fmt_ms(lat.get("max")),
        duplicates,
        lost,
        result.load,
    ]


def markdown_table(header: Iterable[str], rows: Iterable[list[str]]) -> str:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def write_between_markers(path: Path, *, start: str, end: str, body: str, heading: str) -> None:
    """Replace what is between ``start`` and ``end`` in ``path``; append both when absent."""
    text = path.read_text() if path.exists() else ""
    block = f"{start}\n{body.strip()}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip("\n") + f"\n\n{heading}\n\n{block}\n"
    path.write_text(text)
