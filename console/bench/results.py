"""The benchmark's pure parts: wrk's output as numbers, the table and the document section
(tested with real wrk output in tests/common/test_bench_web.py)."""

import re
from dataclasses import dataclass, field
from html import unescape

from console.bench.base import MARK_END, MARK_START, BenchError


@dataclass
class Result:
    requests: int = 0
    duration_s: float = 0.0
    rps: float = 0.0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    errors: int = 0  # socket errors and timeouts
    non_2xx: int = 0
    wrapped: int = 0
    late: int = 0  # fixed-rate runs: slots sent > 10 ms late (every connection was busy)
    late_max_ms: float = 0.0
    extra: dict = field(default_factory=dict)


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def parse_wrk_latency(text: str) -> float:
    """wrk's human latency ("912.00us", "3.20ms", "1.05s", "2.00m") in milliseconds."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*(us|ms|s|m|h)\s*", text)
    if not match:
        raise ValueError(f"not a wrk latency: {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk_output(text: str) -> Result:
    """Numbers from one wrk run: its standard summary plus the BENCH line of our Lua scripts."""
    result = Result()
    rps = re.search(r"^Requests/sec:\s*([0-9.]+)", text, re.MULTILINE)
    total = re.search(r"^\s*(\d+) requests in ([0-9.]+)(us|ms|s|m|h)", text, re.MULTILINE)
    if not rps or not total:
        raise ValueError("wrk output has no 'Requests/sec' summary")
    result.rps = float(rps.group(1))
    result.requests = int(total.group(1))
    result.duration_s = parse_wrk_latency(total.group(2) + total.group(3)) / 1000
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    result.non_2xx = int(non_2xx.group(1)) if non_2xx else 0
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    if socket:
        # wrk counts a server closing a (sync-worker, non-keep-alive) connection as a read error
        # only when a request was lost; connect/write/timeout are always real failures.
        result.errors = sum(int(n) for n in socket.groups())
    for label, value in re.findall(r"^\s*(50|75|90|99)%\s+(\S+)\s*$", text, re.MULTILINE):
        result.extra[f"p{label}_ms"] = parse_wrk_latency(value)
    result.p50_ms = result.extra.get("p50_ms")
    result.p99_ms = result.extra.get("p99_ms")
    bench = re.search(r"^BENCH (.*)$", text, re.MULTILINE)
    if bench:
        fields = dict(pair.split("=", 1) for pair in bench.group(1).split())
        result.p50_ms = int(fields["p50_us"]) / 1000
        result.p95_ms = int(fields["p95_us"]) / 1000
        result.p99_ms = int(fields["p99_us"]) / 1000
        result.max_ms = int(fields["max_us"]) / 1000
        result.wrapped = int(fields.get("wrapped", 0))
        result.late = int(fields.get("late", 0))
        result.late_max_ms = int(fields.get("late_max_us", 0)) / 1000
    return result


def ratio(target: Result | None, floor: Result | None) -> float | None:
    """Target throughput as a share of the floor measured beside it (None when not comparable)."""
    if target is None or floor is None or not floor.rps:
        return None
    return target.rps / floor.rps


def parse_loadavg(text: str) -> str:
    """The 1/5/15-minute load averages of /proc/loadavg, as "1.23 0.98 0.50"."""
    return " ".join(text.split()[:3])


def parse_connections(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise BenchError(f"--connections must look like 1,8,32 (got {text!r})") from None
    if not values or any(v < 1 or v > 1000 for v in values):
        raise BenchError(f"--connections must be between 1 and 1000 (got {text!r})")
    return values


def next_page_link(html: str) -> str | None:
    """The dashboard's own link to the next (older) page: rel="next", else "Next"/"Older"."""
    for match in re.finditer(r"<a\b([^>]*)>(.*?)</a>", html, re.DOTALL | re.IGNORECASE):
        attrs, label = match.groups()
        href = re.search(r'href="([^"]*)"', attrs)
        if not href:
            continue
        if re.search(r'rel="[^"]*\bnext\b', attrs) or re.search(
            r"\b(next|older)\b", label, re.IGNORECASE
        ):
            return unescape(href.group(1))
    return None


def _fmt_ms(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    if value >= 100:
        return f"{value:.0f} ms"
    return f"{value:.1f} ms"


def _fmt_ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


@dataclass
class Row:
    target: str
    connections: str
    result: Result
    floor: Result | None
    loadavg: str
    note: str = ""


def markdown_table(rows: list[Row]) -> str:
    lines = [
        "| target | conns | req/s | p50 | p95 | p99 | floor req/s | floor p99 | × floor "
        "| errors | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        r, f = row.result, row.floor
        fixed_rate = row.connections.endswith("/s")
        cells = [
            f"{row.target} {row.note}".strip(),
            row.connections,
            f"{r.rps:.1f}",
            _fmt_ms(r.p50_ms),
            _fmt_ms(r.p95_ms),
            _fmt_ms(r.p99_ms),
            f"{f.rps:.1f}" if f else "–",
            _fmt_ms(f.p99_ms) if f else "–",
            "–" if fixed_rate else _fmt_ratio(ratio(r, f)),
            str(r.errors + r.non_2xx),
            row.loadavg,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def replace_between_markers(document: str, section: str, heading: str) -> str:
    """Put ``section`` between the markers, appending heading + markers when absent."""
    block = f"{MARK_START}\n{section.strip()}\n{MARK_END}"
    if MARK_START in document and MARK_END in document:
        before, rest = document.split(MARK_START, 1)
        _, after = rest.split(MARK_END, 1)
        return before + block + after
    return document.rstrip("\n") + f"\n\n{heading}\n\n{block}\n"
