"""Running one queue's plan: the floor loop, then the pipeline through a real django-q2 cluster
(recording, the SIGKILLed worker of the kill step, waiting for the rows to finish)."""

import os
import signal
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

from common import benchkit, outbox
from common.outbox.drain import forget_queued_drains
from proposals.outbox_bench.plan import Step

# Share of a kill run's items the server must have accepted before a worker is killed.
KILL_AFTER = 0.25


def database_url() -> str:
    """This process's database as a URL, for the workers (under pytest: the test database)."""
    s = connection.settings_dict
    auth = s["USER"] or "postgres"
    if s.get("PASSWORD"):
        auth += f":{s['PASSWORD']}"
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class SuiteRunner:
    """Runs a suite's steps for ``manage.py bench_deliveries``, reporting progress on ``stdout``."""

    def __init__(self, *, stdout) -> None:
        self.stdout = stdout

    def _cluster_env(self, suite, step: Step, options: dict) -> dict:
        env = dict(os.environ)
        env.update(
            DEBUG="false",
            LOG_LEVEL=options["log_level"],
            LOG_FORMAT="json",
            PYTHONUNBUFFERED="1",
            Q_CLUSTER_NAME=str(settings.Q_CLUSTER["name"]),
            DATABASE_URL=database_url(),
        )
        env.update(suite.cluster_env(kill=step.kind == "kill"))
        return env

    def _purge_queue(self) -> None:
        """Tasks left by an earlier step or run (its rows are done) must not be timed here."""
        from django_q.brokers import get_broker
        from django_q.models import OrmQ

        OrmQ.objects.filter(key=get_broker().list_key).delete()
        # Their "drain queued" flags would now lie, and hold back the next step's requests.
        forget_queued_drains()

    # -- running ---------------------------------------------------------------------------------
    def run_suite(self, suite, plan: list[Step], options: dict) -> list[benchkit.StepResult]:
        results: list[benchkit.StepResult] = []
        suite.start()
        try:
            for step in plan:
                self.stdout.write(f"{suite.name}: {step.kind}, {step.count:,} …")
                self.stdout.flush()
                suite.prepare(step)
                if step.kind == "floor":
                    result = self._floor(suite, step)
                else:
                    floor = next((r for r in reversed(results) if r.step == "floor"), None)
                    result = self._pipeline(suite, step, options)
                    result.floor_per_second = floor.per_second if floor else None
                results.append(result)
                self.stdout.write("  " + " | ".join(benchkit.table_row(result)[1:]))
        finally:
            if not options["keep"]:
                suite.cleanup()
            suite.stop()
        return results

    def _floor(self, suite, step: Step) -> benchkit.StepResult:
        suite.begin(step)
        seconds = suite.floor(step)
        time.sleep(0.5)
        check = suite.server_check(step, kill_time=None)
        return benchkit.StepResult(
            queue=suite.name,
            step="floor",
            workers=None,
            count=step.count,
            seconds=seconds,
            load=benchkit.load_average(),
            duplicates=check["duplicates"],
            lost=check["lost_at_server"],
        )

    def _pipeline(self, suite, step: Step, options: dict) -> benchkit.StepResult:
        assert step.workers is not None  # the plan gives every pipeline step its workers
        self._purge_queue()
        log_path = suite.tmp / f"qcluster-{step.tag}.log"
        cluster = benchkit.Cluster.create(
            base_dir=Path(settings.BASE_DIR),
            env=self._cluster_env(suite, step, options),
            workers=step.workers,
            log_path=log_path,
        )
        kill: dict = {}
        backlog = not step.rate
        try:
            if backlog:
                # A burst is a backlog (an outage's catch-up, a morning's reminders): recorded
                # in full, each transaction asking for a drain on commit, before the workers
                # start — so the recording loop's speed and CPU are not what is measured.
                suite.begin(step)
                recorded_seconds = self._record(suite, step, options, None, kill)
            cluster.start()
            cluster.ready()
            ready_at = timezone.now()
            if not backlog:
                suite.begin(step)
                recorded_seconds = self._record(suite, step, options, cluster, kill)
            finished = self._wait(suite, step, options, cluster, kill)
        finally:
            cluster.stop()
        time.sleep(0.5)  # anything still in flight reaches the server's log
        done, given_up = suite.progress(step)
        check = suite.server_check(step, kill_time=kill.get("time"))
        timings = suite.timings(step)
        if backlog and timings:
            # Waiting for the workers to exist is not the pipeline's latency. Its pusher may
            # hand out the first drain before ready() has seen every process settle.
            start = min(ready_at, min(done_at for _, done_at in timings))
            timings = [(max(recorded, start), done_at) for recorded, done_at in timings]
        latency = benchkit.latency_summary(timings)
        seconds = (latency["last"] - latency["first"]).total_seconds() if latency["first"] else 0.0
        result = benchkit.StepResult(
            queue=suite.name,
            step=step.kind,
            workers=step.workers,
            count=done,
            seconds=seconds,
            load=benchkit.load_average(),
            latency=latency,
            duplicates=check["duplicates"],
            repeats_before_kill=check.get("repeats_before_kill") or None,
            lost=max(step.count - done - given_up, check["lost_at_server"] - given_up),
            failed=given_up or None,
            offered_rate=step.rate,
            record_seconds=recorded_seconds,
        )
        result.notes.append(f"recorded in {recorded_seconds:.1f} s")
        retried = suite.retried(step)
        if retried:
            result.notes.append(f"{retried} needed more than one attempt")
        if check.get("why"):
            result.notes.append(
                "duplicates: " + ", ".join(f"{n} {why}" for why, n in check["why"].items())
            )
        if not finished:
            result.notes.append(f"not finished within {options['timeout']:.0f} s")
            # Left due, they would be drained by the next step's workers and slow it down.
            suite.discard_unfinished(step)
        if step.kind == "kill":
            if kill.get("pid"):
                result.notes.append(
                    f"worker {kill['pid']} SIGKILLed after {kill['arrived']:,} accepted; "
                    f"{kill.get('recovered', 0)} rows taken back from its lease by the sweeper"
                )
            else:
                result.notes.append("no worker was caught mid-batch: nothing was killed")
        if not options["keep"]:
            log_path.unlink(missing_ok=True)
        return result

    def _record(self, suite, step: Step, options: dict, cluster, kill: dict) -> float:
        started = time.monotonic()
        if step.rate:
            self._record_paced(suite, step, options["recorders"], started)
        else:
            chunk = options["chunk"]
            for offset in range(0, step.count, chunk):
                with transaction.atomic():
                    suite.record(step, range(offset, min(offset + chunk, step.count)))
                if step.kind == "kill" and not kill and cluster is not None:
                    self._maybe_kill(suite, step, cluster, kill)
        return time.monotonic() - started

    def _record_paced(self, suite, step: Step, recorders: int, started: float) -> None:
        """Item i is recorded at ``started + i / rate``, one per transaction, as requests do.

        Several threads (each its own database connection) share the schedule: one thread
        waiting on its commit must not hold back the next item, as one web worker does not
        hold back another.
        """
        rate = step.rate
        assert rate, "a paced step has a rate"
        errors: list[BaseException] = []

        def recorder(offset: int) -> None:
            try:
                for index in range(offset, step.count, recorders):
                    pause = started + index / rate - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    with transaction.atomic():
                        suite.record(step, range(index, index + 1))
            except BaseException as exc:  # re-raised in the command's thread
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=recorder, args=(k,)) for k in range(recorders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

    def _maybe_kill(self, suite, step: Step, cluster, kill: dict) -> None:
        arrived = suite.arrived(step)
        if arrived < KILL_AFTER * step.count:
            return
        targets = sorted(suite.busy_worker_pids(step) & cluster.processes())
        if not targets:
            return
        kill.update(pid=targets[0], arrived=arrived, time=time.time())
        os.kill(targets[0], signal.SIGKILL)
        self.stdout.write(f"  SIGKILL worker {targets[0]} after {arrived:,} accepted")

    def _wait(self, suite, step: Step, options: dict, cluster, kill: dict) -> bool:
        deadline = time.monotonic() + options["timeout"]
        last_sweep = time.monotonic()
        while time.monotonic() < deadline:
            done, given_up = suite.progress(step)
            if done + given_up >= step.count:
                return True
            if not cluster.alive():
                raise CommandError(f"qcluster exited:\n{cluster.log_tail()}")
            if step.kind == "kill":
                if not kill:
                    self._maybe_kill(suite, step, cluster, kill)
                elif time.monotonic() - last_sweep > 2:
                    # What the every-minute "outbox: sweep" schedule does, so the run waits
                    # for the lease (seconds), not for the next minute.
                    swept = outbox.sweep()
                    for counts in swept.values():
                        kill["recovered"] = kill.get("recovered", 0) + counts.get("recovered", 0)
                    last_sweep = time.monotonic()
            time.sleep(0.2)
        return False
