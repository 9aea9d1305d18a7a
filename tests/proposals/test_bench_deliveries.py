"""bench_deliveries: what it counts as lost, duplicated or repeated, its plan, and a real run."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from common import benchkit
from common.smtp_sink import message_id, parse_log
from proposals.bench import classify_arrivals
from proposals.management.commands.bench_deliveries import MARK_END, MARK_START
from proposals.models import Delivery
from proposals.outbox_bench.plan import build_plan, targets_met
from tests.redis_needed import require_redis

KILL = 100.0
EXPECTED = {"a@x.test", "b@x.test", "c@x.test"}


def test_every_recipient_seen_once_is_neither_lost_nor_duplicated():
    records = [(1.0, "<1>", "a@x.test"), (2.0, "<2>", "b@x.test"), (3.0, "<3>", "c@x.test")]
    check = classify_arrivals(records, EXPECTED, kill_time=None)
    assert check == {
        "lost_at_server": 0,
        "duplicates": 0,
        "repeats_before_kill": 0,
        "arrived": 3,
        "why": {},
    }


def test_a_recipient_the_server_never_saw_is_lost():
    check = classify_arrivals([(1.0, "<1>", "a@x.test")], EXPECTED, kill_time=None)
    assert check["lost_at_server"] == 2


def test_a_message_accepted_before_the_kill_sent_again_with_its_id_is_a_repeat():
    records = [(KILL - 1, "<1>", "a@x.test"), (KILL + 20, "<1>", "a@x.test")]
    check = classify_arrivals(records, {"a@x.test"}, kill_time=KILL)
    assert (check["duplicates"], check["repeats_before_kill"]) == (0, 1)


def test_a_repeat_without_a_kill_is_a_duplicate():
    records = [(1.0, "<1>", "a@x.test"), (2.0, "<1>", "a@x.test")]
    check = classify_arrivals(records, {"a@x.test"}, kill_time=None)
    assert (check["duplicates"], check["repeats_before_kill"]) == (1, 0)


def test_a_repeat_first_accepted_after_the_kill_is_a_duplicate():
    records = [(KILL + 1, "<1>", "a@x.test"), (KILL + 2, "<1>", "a@x.test")]
    check = classify_arrivals(records, {"a@x.test"}, kill_time=KILL)
    assert (check["duplicates"], check["repeats_before_kill"]) == (1, 0)


def test_one_recipient_under_two_message_ids_is_a_duplicate_even_after_a_kill():
    records = [(KILL - 1, "<1>", "a@x.test"), (KILL + 5, "<2>", "a@x.test")]
    check = classify_arrivals(records, {"a@x.test"}, kill_time=KILL)
    assert (check["duplicates"], check["repeats_before_kill"]) == (1, 0)
    assert check["why"] == {"another Message-ID": 1}


def test_a_third_arrival_after_a_kill_is_a_duplicate():
    records = [(KILL - 1, "<1>", "a@x.test")] * 3
    check = classify_arrivals(records, {"a@x.test"}, kill_time=KILL)
    assert check["duplicates"] == 2
    assert check["why"] == {"more than twice": 2}


def test_the_sink_log_keeps_whole_lines_and_reads_the_message_id():
    assert parse_log(["1.5\t<m@x>\ta@x.test\n", "2.0\t<n@x>\tb@x"]) == [(1.5, "<m@x>", "a@x.test")]
    content = b"Subject: hi\r\nMessage-ID: <delivery.1.ab@x.test>\r\n\r\nMessage-ID: <body>\r\n"
    assert message_id(content) == "<delivery.1.ab@x.test>"


class _Suite:
    default_count = 50
    supports_paced = True
    supports_kill = True


def _options(**overrides) -> dict:
    options = {
        "count": 0,
        "workers": "2,4",
        "steps": {"floor", "burst", "paced", "kill"},
        "rate": 100.0,
        "paced_seconds": 2.0,
        "kill_count": 0,
    }
    return options | overrides


def test_the_plan_puts_a_floor_before_each_burst_then_paced_runs_then_the_kill():
    plan = [(s.kind, s.count, s.workers) for s in build_plan(_Suite, _options())]
    assert plan == [
        ("floor", 50, None),
        ("burst", 50, 2),
        ("floor", 50, None),
        ("burst", 50, 4),
        ("paced", 200, 2),
        ("paced", 200, 4),
        ("kill", 50, 2),
    ]


def test_a_queue_without_paced_or_kill_support_gets_floors_and_bursts_only():
    class Plain:
        default_count = 10

    kinds = [s.kind for s in build_plan(Plain, _options(workers="2"))]
    assert kinds == ["floor", "burst"]


def _result(step: str, per_second: float, *, workers=2, floor=None, **extra):
    return benchkit.StepResult(
        queue=extra.pop("queue", "deliveries"),
        step=step,
        workers=workers,
        count=int(per_second * 10),
        seconds=10.0,
        load="1.00 1.00 1.00",
        floor_per_second=floor,
        duplicates=extra.pop("duplicates", 0),
        lost=extra.pop("lost", 0),
        **extra,
    )


def test_a_burst_under_half_its_floor_misses_the_target_even_above_200_per_second():
    rows = targets_met([_result("burst", 250.0, floor=600.0)])
    assert rows[0][3] is False
    rows = targets_met([_result("burst", 350.0, floor=600.0)])
    assert rows[0][3] is True


def test_a_duplicate_in_any_run_misses_the_zero_target():
    rows = targets_met([_result("kill", 300.0, duplicates=1)])
    assert rows[-1][3] is False
    rows = targets_met([_result("kill", 300.0, repeats_before_kill=1)])
    assert rows[-1][3] is True


def test_the_table_is_written_between_its_markers_and_nothing_else_changes(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# B\n\nintro\n{MARK_START}\nold\n{MARK_END}\n\n## Other\n\nkept\n")
    benchkit.write_between_markers(doc, start=MARK_START, end=MARK_END, body="new", heading="## H")
    assert doc.read_text() == f"# B\n\nintro\n{MARK_START}\nnew\n{MARK_END}\n\n## Other\n\nkept\n"
    fresh = tmp_path / "fresh.md"
    fresh.write_text("# B\n")
    benchkit.write_between_markers(fresh, start=MARK_START, end=MARK_END, body="t", heading="## H")
    assert fresh.read_text() == f"# B\n\n## H\n\n{MARK_START}\nt\n{MARK_END}\n"


def test_a_paced_step_reports_no_ratio_and_whether_it_kept_up():
    kept_up = _result("paced", 99.0, floor=500.0, offered_rate=100.0, record_seconds=10.0)
    assert kept_up.ratio is None
    assert benchkit.table_row(kept_up)[3] == "99.0 (kept up)"
    saturated = _result("paced", 60.0, offered_rate=100.0, record_seconds=6.0)
    assert benchkit.table_row(saturated)[3] == "60.0 (saturated)"
    # 600 recorded in 10 s: recording fell behind the offered 100/s, the workers did not.
    slow_recording = _result("paced", 60.0, offered_rate=100.0, record_seconds=10.0)
    assert benchkit.table_row(slow_recording)[3] == "60.0 (kept up), recorded at 60/s"


def test_percentiles_are_nearest_rank():
    values = list(range(1, 101))
    assert [benchkit.percentile(values, p) for p in (50, 95, 99)] == [50, 95, 99]
    assert benchkit.percentile([], 50) == 0.0


@pytest.fixture
def shared_cache(settings, monkeypatch):
    """Redis for this process and the workers, as bench_deliveries requires (db 4, flushed)."""
    require_redis()
    url = "redis://127.0.0.1:6379/4"
    monkeypatch.setenv("CACHE_URL", url)
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    }
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def _bench(**options) -> str:
    """A real run, printed only: PostgreSQL (the test database) and real cluster processes."""
    if connection.vendor != "postgresql":
        pytest.skip("bench_deliveries runs on PostgreSQL only")
    out = StringIO()
    call_command("bench_deliveries", count=20, workers="2", no_write=True, stdout=out, **options)
    return out.getvalue()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_run_sends_every_email_once_and_survives_a_killed_worker(shared_cache):
    text = _bench(queues="deliveries", steps="floor,burst,kill", kill_count=60, smtp_latency_ms=40)
    rows = {
        cells[1]: cells
        for line in text.splitlines()
        if line.startswith("| deliveries |")
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }
    floor, burst = rows["floor, 20"], rows["burst, 20"]
    kill = rows["burst, 60, a worker SIGKILLed mid-batch"]
    assert floor[9:11] == ["0", "0"], text  # duplicates, lost
    assert burst[9:11] == ["0", "0"], text
    assert kill[9].split()[0] == "0" and kill[10] == "0", text
    assert "SIGKILL worker" in text, text
    assert float(burst[3]) > 0 and burst[4] != "—"  # a rate and its ratio to the floor
    assert not Delivery.objects.exists()  # the run removes its rows


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_run_syncs_contacts_and_processes_webhooks_through_the_standin(shared_cache):
    text = _bench(queues="contacts,webhooks", steps="floor,burst")
    lines = [line for line in text.splitlines() if "| burst, 20 |" in line]
    assert [line.split("|")[1].strip() for line in lines] == ["contacts", "webhooks"]
    for line in lines:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[9:11] == ["0", "0"], line


@pytest.mark.django_db(transaction=True)
def test_paced_recorders_record_every_item_once_and_none_before_its_time():
    import threading
    import time

    from proposals.outbox_bench.plan import Step
    from proposals.outbox_bench.runner import SuiteRunner

    class Recording:
        def __init__(self) -> None:
            self.seen: list[tuple[int, float]] = []
            self.lock = threading.Lock()

        def record(self, step, indexes) -> None:
            with self.lock:
                self.seen.extend((i, time.monotonic()) for i in indexes)

    suite, step = Recording(), Step("paced", 40, workers=2, rate=200.0)
    started = time.monotonic()
    SuiteRunner(stdout=StringIO())._record_paced(suite, step, recorders=3, started=started)
    assert sorted(i for i, _ in suite.seen) == list(range(40))
    assert all(at >= started + i / 200.0 for i, at in suite.seen)


@pytest.mark.django_db
def test_a_step_that_ran_out_of_time_leaves_no_due_rows_for_the_next_one(tmp_path):
    from proposals.bench import DeliverySuite
    from proposals.outbox_bench.plan import Step

    suite = DeliverySuite(run="t", tmp=tmp_path, base_dir=tmp_path, options={})
    step = Step("burst", 3, workers=2, tag="t1")
    suite.prepare(step)
    suite.record(step, range(3))
    suite._rows(step).filter(idempotency_key=f"bench:{step.tag}:0").update(
        state=Delivery.State.SENT
    )
    suite.discard_unfinished(step)
    assert list(suite._rows(step).values_list("state", flat=True)) == [Delivery.State.SENT]
    suite.cleanup()
    assert not Delivery.objects.filter(business=step.data["business"]).exists()
