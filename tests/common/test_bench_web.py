"""The HTTP benchmark's pure parts (manage.py bench_web) and where its floor view is mounted.

Nothing here is timed: the outputs below are real wrk output captured from runs.
"""

import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import override_settings
from django.urls import Resolver404, resolve

from config.bench_urls import FLOOR_PATH
from console.bench.base import MARK_END, MARK_START, SCRIPTS, BenchError
from console.bench.machine import load_signing_key
from console.bench.results import (
    Result,
    Row,
    markdown_table,
    next_page_link,
    parse_connections,
    parse_loadavg,
    parse_wrk_latency,
    parse_wrk_output,
    ratio,
    replace_between_markers,
)
from console.bench.targets import Target, select_targets
from tests.accounts.factories import BusinessFactory

LOAD_LUA = SCRIPTS / "load.lua"
needs_wrk = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")

# wrk 4.1.0 with scripts/bench/report.lua, against the API detail view.
WRK_API_DETAIL = """\
Running 2s test @ http://127.0.0.1:8900/api/v1/proposals/298/
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    42.30ms   12.67ms  81.99ms   71.43%
    Req/Sec    23.24      6.64    40.00     61.90%
  Latency Distribution
     50%   39.93ms
     75%   48.04ms
     90%   63.32ms
     99%   81.99ms
  49 requests in 2.10s, 77.23KB read
Requests/sec:     23.30
Transfer/sec:     36.73KB
BENCH requests=49 duration_us=2102811 p50_us=39931 p95_us=66404 p99_us=81990 max_us=81990 \
connect_errors=0 read_errors=0 write_errors=0 status_errors=0 timeouts=0
"""

# wrk against a server answering 404 to everything: wrk's only sign of it is one line.
WRK_NOT_FOUND = """\
Running 1s test @ http://127.0.0.1:8949/missing
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.69ms    3.23ms  28.92ms   88.31%
    Req/Sec     1.20k   195.75     1.60k    63.64%
  Latency Distribution
     50%    2.54ms
     75%    4.86ms
     90%    7.31ms
     99%   15.55ms
  1316 requests in 1.10s, 668.46KB read
  Non-2xx or 3xx responses: 1316
Requests/sec:   1196.54
Transfer/sec:    607.78KB
BENCH requests=1316 duration_us=1099836 p50_us=2539 p95_us=9694 p99_us=15553 max_us=28921 \
connect_errors=0 read_errors=0 write_errors=0 status_errors=1316 timeouts=0
"""

# wrk's own summary alone (no Lua script), with socket errors and latencies in seconds.
WRK_PLAIN_SLOW = """\
Running 10s test @ http://127.0.0.1:8900/app/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.52s   312.10ms   2.00s    68.00%
    Req/Sec     9.80      5.12    20.00     60.00%
  Latency Distribution
     50%    1.48s
     75%    1.71s
     90%    1.88s
     99%    2.00s
  196 requests in 10.02s, 115.79MB read
  Socket errors: connect 0, read 0, write 0, timeout 12
Requests/sec:     19.56
Transfer/sec:     11.56MB
"""

# wrk 4.1.0 with scripts/bench/load.lua at 200/s (8 connections, one thread): the floor of
# webhook_200 on a loaded machine, which answered 115 of the 200 offered per second.
WRK_PACED_FLOOR = """\
Running 5s test @ http://127.0.0.1:8906/__bench__/floor?pk=151
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    68.60ms   17.25ms 125.83ms   70.88%
    Req/Sec   115.16     23.64   160.00     50.00%
  Latency Distribution
     50%   66.07ms
     75%   79.00ms
     90%   91.93ms
     99%  119.07ms
  577 requests in 5.03s, 185.38KB read
Requests/sec:    114.79
Transfer/sec:     36.88KB
BENCH requests=577 duration_us=5026702 p50_us=66073 p95_us=100650 p99_us=119074 max_us=125832 \
connect_errors=0 read_errors=0 write_errors=0 status_errors=0 timeouts=0 wrapped=0
"""


def test_floor_is_not_in_production_urls():
    with pytest.raises(Resolver404):
        resolve(f"/{FLOOR_PATH}")
    with pytest.raises(Resolver404):
        resolve(f"/{FLOOR_PATH}", urlconf="config.urls")
    assert resolve(f"/{FLOOR_PATH}", urlconf="config.bench_urls").url_name == "bench-floor"


def test_bench_urls_keep_every_production_url():
    assert resolve("/api/v1/proposals/", urlconf="config.bench_urls").url_name == "proposal-list"
    assert resolve("/app/", urlconf="config.bench_urls").url_name == "proposal_list"


@pytest.mark.django_db
@override_settings(ROOT_URLCONF="config.bench_urls")
def test_floor_is_one_primary_key_select(client, django_assert_num_queries):
    business = BusinessFactory()
    with django_assert_num_queries(1):
        response = client.get(f"/{FLOOR_PATH}", {"pk": business.pk})
    assert response.status_code == 200
    assert response.content == b"ok"
    assert client.get(f"/{FLOOR_PATH}", {"pk": "x"}).status_code == 200


def test_wrk_output_with_report_script():
    result = parse_wrk_output(WRK_API_DETAIL)
    assert result.requests == 49
    assert result.duration_s == pytest.approx(2.10)
    assert result.rps == pytest.approx(23.30)
    assert (result.p50_ms, result.p95_ms, result.p99_ms) == (39.931, 66.404, 81.99)
    assert result.max_ms == 81.99
    assert result.non_2xx == 0 and result.errors == 0 and result.wrapped == 0


def test_wrk_output_counts_non_2xx():
    result = parse_wrk_output(WRK_NOT_FOUND)
    assert result.non_2xx == 1316
    assert result.rps == pytest.approx(1196.54)
    assert result.p95_ms == pytest.approx(9.694)


def test_wrk_plain_output_in_seconds_with_timeouts():
    result = parse_wrk_output(WRK_PLAIN_SLOW)
    assert result.errors == 12
    assert result.p50_ms == pytest.approx(1480)
    assert result.p99_ms == pytest.approx(2000)
    assert result.p95_ms is None  # wrk itself prints no p95: only the Lua line has it
    assert result.duration_s == pytest.approx(10.02)


def test_wrk_output_without_summary_is_refused():
    with pytest.raises(ValueError, match="Requests/sec"):
        parse_wrk_output("unable to connect to 127.0.0.1:8900 Connection refused\n")


@pytest.mark.parametrize(
    ("text", "ms"),
    [("912.00us", 0.912), ("3.20ms", 3.2), ("1.05s", 1050.0), ("2.00m", 120000.0)],
)
def test_wrk_latency_units(text, ms):
    assert parse_wrk_latency(text) == pytest.approx(ms)


def test_paced_wrk_output():
    result = parse_wrk_output(WRK_PACED_FLOOR)
    assert result.requests == 577
    assert result.rps == pytest.approx(114.79)
    assert (result.p50_ms, result.p95_ms, result.p99_ms) == (66.073, 100.65, 119.074)
    assert result.wrapped == 0 and result.errors == 0 and result.late == 0
    late = parse_wrk_output(
        WRK_PACED_FLOOR.replace("wrapped=0", "wrapped=0 late=3 late_max_us=25400")
    )
    assert (late.late, late.late_max_ms) == (3, 25.4)


def test_ratio_to_floor():
    assert ratio(Result(rps=23.3), Result(rps=158.0)) == pytest.approx(0.1475, abs=1e-4)
    assert ratio(Result(rps=10), Result(rps=0)) is None
    assert ratio(Result(rps=10), None) is None


def test_table_row_has_ratio_and_errors():
    rows = [
        Row("api_detail", "8", parse_wrk_output(WRK_API_DETAIL), Result(rps=46.6), "2.5 1.9 0.9"),
        Row("webhook_200", "200/s", parse_wrk_output(WRK_PACED_FLOOR), Result(rps=101.2), "5.3"),
        Row("missing", "4", parse_wrk_output(WRK_NOT_FOUND), Result(rps=1200), "1.0"),
    ]
    lines = markdown_table(rows).splitlines()
    assert lines[2].startswith("| api_detail | 8 | 23.3 | 39.9 ms | 66.4 ms | 82.0 ms | 46.6 |")
    assert "| 0.50× | 0 |" in lines[2]
    assert "| – | 0 | 5.3 |" in lines[3]  # a fixed rate has no throughput ratio
    assert "| 1316 |" in lines[4]


def test_section_between_markers_keeps_the_rest():
    doc = "# Benchmarks\n\n## Delivery pipeline\n\nkept\n"
    once = replace_between_markers(doc, "table one", "## HTTP benchmark")
    assert once.startswith(doc.rstrip("\n"))
    assert f"## HTTP benchmark\n\n{MARK_START}\ntable one\n{MARK_END}\n" in once
    twice = replace_between_markers(once + "\n## After\n", "table two", "## HTTP benchmark")
    assert "table one" not in twice and "table two" in twice
    assert twice.count("## HTTP benchmark") == 1 and twice.endswith("## After\n")
    assert "kept" in twice


def test_next_page_link_follows_the_dashboards_own_links():
    numbered = (
        '<nav class="pagination"><span>Page 1 of 12</span>'
        '<a rel="next" href="?status=sent&amp;page=2">Next →</a></nav>'
    )
    assert next_page_link(numbered) == "?status=sent&page=2"
    cursor = '<a href="/app/">Newest</a> <a class="more" href="?after=cD0yMDI2">Older →</a>'
    assert next_page_link(cursor) == "?after=cD0yMDI2"
    assert next_page_link('<a rel="prev" href="?page=1">← Previous</a>') is None


def test_connections_and_targets_options():
    assert parse_connections("1,8,32") == [1, 8, 32]
    with pytest.raises(BenchError):
        parse_connections("1,many")
    with pytest.raises(BenchError):
        parse_connections("0")
    targets = [Target("api_detail", "/a"), Target("admin_x", "/b"), Target("admin_y", "/c")]
    assert [t.name for t in select_targets(targets, ["admin_"])] == ["admin_x", "admin_y"]
    assert [t.name for t in select_targets(targets, ["api_detail,admin_y"])] == [
        "api_detail",
        "admin_y",
    ]
    with pytest.raises(BenchError, match="Unknown target"):
        select_targets(targets, ["nope"])


def test_loadavg():
    assert parse_loadavg("2.50 1.85 0.92 3/456 12345\n") == "2.50 1.85 0.92"


class _Recorder(BaseHTTPRequestHandler):
    """Answers 200 to anything and keeps what it was sent (one request per connection)."""

    seen: list = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        type(self).seen.append((self.command, body))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def recorder():
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", _Recorder.seen
    server.shutdown()
    server.server_close()


def _load_lua(url: str, *args: str, seconds: int = 2, conns: int = 4) -> str:
    proc = subprocess.run(
        [
            "wrk",
            "-t",
            "1",
            "-c",
            str(conns),
            "-d",
            f"{seconds}s",
            "-s",
            str(LOAD_LUA),
            url,
            "--",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@needs_wrk
def test_load_lua_holds_the_rate(recorder):
    url, seen = recorder
    result = parse_wrk_output(_load_lua(url, "50", "1", seconds=2))
    # 50/s for 2 s, whatever the connections could do: about 100 requests, not thousands.
    assert 80 <= result.requests <= 115
    assert result.non_2xx == 0
    assert {method for method, _ in seen} == {"GET"}


@needs_wrk
def test_load_lua_posts_each_body_in_turn_and_counts_reuse(recorder, tmp_path):
    url, seen = recorder
    bodies = tmp_path / "bodies.txt"
    bodies.write_text("first\nsecond\nthird\n")
    result = parse_wrk_output(_load_lua(url, "20", "1", str(bodies), seconds=1, conns=1))
    posted = [body for method, body in seen if method == "POST"]
    # In turn, starting over after the last (wrk itself builds one request before the run,
    # so the first one sent may be the second line).
    order = ["first", "second", "third"]
    assert len(posted) >= 6
    assert all(
        order[(order.index(a) + 1) % 3] == b for a, b in zip(posted, posted[1:], strict=False)
    )
    assert result.wrapped >= 1


def test_bench_bodies_are_signed_webhooks_the_endpoint_accepts(settings):
    from integrations.wix.standin.webhooks import DEV_PUBLIC_KEY, sign_webhook, webhook_claims
    from integrations.wix.webhooks import verify

    settings.WIX_WEBHOOK_PUBLIC_KEY = DEV_PUBLIC_KEY
    token = sign_webhook(
        webhook_claims(event_type="bench.Ignored", instance_id="inst-1", event_id="bench-1"),
        private_key=load_signing_key(),
    )
    event = verify(token.encode())
    assert (event.event_type, event.instance_id) == ("bench.Ignored", "inst-1")


class _SlowEvery25th(_Recorder):
    """Every 25th request answers after 0.5 s, the others at once."""

    lock = threading.Lock()

    def _answer(self) -> None:
        with self.lock:
            type(self).seen.append(("GET", ""))
            slow = len(type(self).seen) % 25 == 0
        if slow:
            time.sleep(0.5)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = _answer


@needs_wrk
def test_paced_percentiles_are_the_measured_latencies():
    """4% of answers are slow: wrk's own closed-loop correction would put its p95 at ~400 ms."""
    _SlowEvery25th.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowEvery25th)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        result = parse_wrk_output(_load_lua(url, "50", "1", "", "4", seconds=3, conns=4))
    finally:
        server.shutdown()
        server.server_close()
    # Far under the ~400 ms the correction would give, with room for a loaded machine (a run
    # beside other test suites measured 122 ms).
    assert result.p95_ms < 250
    assert result.p99_ms >= 400 and result.max_ms >= 450
    # While one connection waited the other three kept the schedule.
    assert result.late == 0
