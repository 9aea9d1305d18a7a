"""The measuring steps of a run: each target beside the floor with wrk, and the fixed rate."""

# ruff: noqa: S603 - runs wrk with arguments it builds itself.

import contextlib
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from django.core.management.base import OutputWrapper

from console.bench.base import (
    ADMIN_CONNECTIONS,
    FLOOR,
    RATE_CONNECTIONS,
    SCRIPTS,
    SETTLE_PAUSE_S,
    BenchError,
)
from console.bench.client import http_get
from console.bench.machine import load_signing_key, read_loadavg
from console.bench.results import Result, Row, _fmt_ms, _fmt_ratio, parse_wrk_output, ratio
from console.bench.targets import Target


class Measurer:
    """The measuring half of ``WebBench``: it reads what ``WebBench.run`` set up (``stdout``,
    ``state``, ``base``, ``tmp``, ``duration``, ``connections``, ``rate``, ``raw_dir``)."""

    stdout: OutputWrapper
    state: Any  # the setup step's JSON: ids, keys and sessions of the seeded data
    base: str
    tmp: Path
    duration: int
    connections: list[int]
    rate: int  # webhooks per second
    raw_dir: Path | None

    def _headers(self, auth: str) -> dict:
        if auth.startswith("api:"):
            return {"Authorization": f"Bearer {self.state[auth[4:]]['api_key']}"}
        if auth.startswith("session:"):
            return {"Cookie": f"sessionid={self.state[auth[8:]]['session']}"}
        if auth == "staff":
            return {"Cookie": f"sessionid={self.state['staff_session']}"}
        return {}

    def _floor_path(self) -> str:
        return f"/__bench__/floor?pk={self.state['biggest']['id']}"

    # -- measuring ------------------------------------------------------------------------
    def _measure(self, targets: list[Target]) -> list[Row]:
        self.stdout.write("Warming up (floor, 2 s)…")
        self._wrk(Target(FLOOR, self._floor_path()), 8, 2)
        rows: list[Row] = []
        for target in targets:
            if target.kind == "webhook_rate":
                rows.append(self._measure_rate(target))
                continue
            for conns in self.connections:
                if target.admin and conns not in ADMIN_CONNECTIONS:
                    continue
                load = read_loadavg()
                floor = self._wrk(Target(FLOOR, self._floor_path()), conns, self.duration)
                result = self._wrk(target, conns, self.duration, floor=floor)
                row = Row(target.name, str(conns), result, floor, load)
                if result.wrapped:
                    row.note = f"(bodies reused {result.wrapped}×)"
                if result.requests == 0:
                    # Not one answer in the step: slower than the step (``_wrk`` has let the
                    # server finish what wrk abandoned before the next floor).
                    row.note = f"(no answer within {self.duration} s)"
                rows.append(row)
                self.stdout.write(
                    f"{target.name:28} c={conns:<3} {result.rps:8.1f} req/s  "
                    f"p50 {_fmt_ms(result.p50_ms):>8}  p95 {_fmt_ms(result.p95_ms):>8}  "
                    f"p99 {_fmt_ms(result.p99_ms):>8}  floor {floor.rps:7.1f}  "
                    f"{_fmt_ratio(ratio(result, floor))}  errors {result.errors + result.non_2xx}"
                    f"  load {load}"
                )
        return rows

    def _settle(self, limit: float = 120) -> None:
        """Let the server finish what the last step left behind before the next one starts.

        A load generator stops with requests in flight: its connections close, but gunicorn
        still reads and answers every request already in its accept queue. One GET queued
        behind them comes back once they have all been taken (the queue is first in, first
        out); the pause covers those still running in other workers. Without it the next
        step's first request waits for the last step's leftovers, and wrk's correction for
        coordinated omission (it adds the requests a connection would have sent meanwhile)
        turns that one wait, say 300 ms at 1 connection where a request takes 3 ms, into ~100
        samples of 3-300 ms: the p99 of a whole floor step.
        """
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            started = time.monotonic()
            with contextlib.suppress(OSError):
                http_get(self.base + self._floor_path(), timeout=limit)
            if time.monotonic() - started < 0.5:
                break
        time.sleep(SETTLE_PAUSE_S)

    def _wrk(
        self,
        target: Target,
        conns: int,
        duration: int,
        floor: Result | None = None,
        rate: int = 0,
    ) -> Result:
        """One wrk step; ``rate`` > 0 sends at that many requests per second (load.lua)."""
        # Paced: one thread, so that slots follow the order in which connections were opened
        # (the order gunicorn accepts them in); see scripts/bench/load.lua.
        threads = 1 if rate else min(2, conns)
        command = [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(conns),
            "-d",
            f"{duration}s",
            "--timeout",
            "30s",
            "--latency",
        ]
        for name, value in self._headers(target.auth).items():
            command += ["-H", f"{name}: {value}"]
        bodies = ""
        if target.kind.startswith("webhook"):
            if rate:
                expected = int(rate * (duration + 2)) + 100
            else:
                expected = int((floor.rps if floor else 500) * duration * 1.3) + 100
            path = self.tmp / "bodies.txt"
            path.write_text("\n".join(self._bodies(expected)) + "\n")
            bodies = str(path)
        if bodies or rate:
            script = ["-s", str(SCRIPTS / "load.lua"), self.base + target.path]
            # The connection count lets load.lua undo wrk's closed-loop correction (paced).
            command += [*script, "--", str(rate), str(threads), bodies, str(conns)]
        else:
            command += ["-s", str(SCRIPTS / "report.lua"), self.base + target.path]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=duration + 120)
        self._settle()
        if self.raw_dir:
            stamp = f"{target.name}-c{conns}-r{rate}-{time.time():.0f}"
            (self.raw_dir / f"wrk-{stamp}.txt").write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise BenchError(f"wrk failed: {proc.stderr.strip()}")
        return parse_wrk_output(proc.stdout)

    def _measure_rate(self, target: Target) -> Row:
        """The target and the floor at the same fixed rate: their latencies compare."""
        seconds = max(self.duration, 5)
        load = read_loadavg()
        floor_target = Target(FLOOR, self._floor_path())
        floor = self._wrk(floor_target, RATE_CONNECTIONS, seconds, rate=self.rate)
        result = self._wrk(target, RATE_CONNECTIONS, seconds, rate=self.rate)
        row = Row(target.name, f"{self.rate}/s", result, floor, load)
        notes = []
        if result.wrapped:
            notes.append(f"bodies reused {result.wrapped}×")
        if result.late:
            # The rate was not held: every connection was waiting for an answer.
            notes.append(f"{result.late} sent late, up to {_fmt_ms(result.late_max_ms)}")
        row.note = f"({'; '.join(notes)})" if notes else ""
        self.stdout.write(
            f"{target.name:28} {self.rate}/s   {result.rps:8.1f} req/s  "
            f"p50 {_fmt_ms(result.p50_ms):>8}  p95 {_fmt_ms(result.p95_ms):>8}  "
            f"p99 {_fmt_ms(result.p99_ms):>8}  (floor at {self.rate}/s: {floor.rps:.1f} req/s, "
            f"p99 {_fmt_ms(floor.p99_ms)})  errors {result.errors + result.non_2xx}  load {load}"
        )
        return row

    def _bodies(self, count: int) -> list[str]:
        """Distinct webhooks signed with the stand-in's key, for the typical business."""
        from integrations.wix.standin.webhooks import sign_webhook, webhook_claims

        if getattr(self, "_signing_key", None) is None:
            # Loaded once: PyJWT given the PEM text loads (and validates) the RSA key on every
            # call, ~45 ms each, which made signing a step's bodies take minutes.
            self._signing_key = load_signing_key()
        instance = self.state["webhook_instance_id"]
        event_ids = self.state.setdefault("webhook_event_ids", [])
        bodies = []
        for _ in range(count):
            event_id = f"bench-{uuid.uuid4()}"
            event_ids.append(event_id)
            bodies.append(
                sign_webhook(
                    webhook_claims(
                        event_type="bench.Ignored",
                        instance_id=instance,
                        data={"bench": True},
                        event_id=event_id,
                    ),
                    private_key=self._signing_key,
                )
            )
        return bodies
