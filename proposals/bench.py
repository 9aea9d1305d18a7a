"""The delivery suite of ``manage.py bench_deliveries`` (see common/benchkit.py and
docs/benchmarks.md): emails through the outbox to a loopback SMTP server in its own process.

Every pipeline step has its own business (so a step's rows are found through the business
index) and its own recipients ``<tag>-<i>@bench.example.com``: the SMTP server's log, keyed by
recipient and Message-ID, tells what was lost, what arrived twice and with which id.
"""

import re
import sys
import time
from pathlib import Path

from django.core.mail.backends.smtp import EmailBackend
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from accounts.models import Business
from common import benchkit
from common.smtp_sink import parse_log
from proposals import services
from proposals.delivery import mailer
from proposals.delivery.services import delivery_record
from proposals.models import Delivery, DeliveryAttempt, Proposal, ProposalSettings

DONE = (Delivery.State.SENT,)
GIVEN_UP = Delivery.GIVEN_UP_STATES
_WORKER_PID = re.compile(r":(\d+)$")


class SinkLog:
    """Reads the SMTP sink's log incrementally: what arrived since a mark."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def mark(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def since(self, mark: int) -> list[tuple[float, str, str]]:
        with open(self.path, "rb") as log_file:
            log_file.seek(mark)
            data = log_file.read().decode(errors="replace")
        return parse_log(data.splitlines(keepends=True))

    def count_since(self, mark: int) -> int:
        with open(self.path, "rb") as log_file:
            log_file.seek(mark)
            return log_file.read().count(b"\n")


def classify_arrivals(
    records: list[tuple[float, str, str]], expected: set[str], *, kill_time: float | None
) -> dict:
    """Lost, duplicated and (after a kill) repeated messages, from the server's own log.

    A repeat is allowed only for a message the server accepted before the kill, sent again
    with the same Message-ID (the worker died before it could record the send); anything
    else arriving twice is a duplicate.
    """
    by_recipient: dict[str, list[tuple[float, str]]] = {}
    for accepted_at, message_id, recipients in records:
        for recipient in recipients.split(","):
            if recipient in expected:
                by_recipient.setdefault(recipient, []).append((accepted_at, message_id))
    duplicates = repeats = 0
    why: dict[str, int] = {}
    for arrivals in by_recipient.values():
        if len(arrivals) < 2:
            continue
        arrivals.sort()
        first_at, first_id = arrivals[0]
        same_id = all(message_id == first_id for _, message_id in arrivals)
        if kill_time is not None and same_id and first_at <= kill_time and len(arrivals) == 2:
            repeats += 1
            continue
        duplicates += len(arrivals) - 1
        if not same_id:
            reason = "another Message-ID"
        elif len(arrivals) > 2:
            reason = "more than twice"
        elif kill_time is None:
            reason = "twice, no kill"
        else:
            reason = "first accepted after the kill"
        why[reason] = why.get(reason, 0) + len(arrivals) - 1
    return {
        "lost_at_server": len(expected - by_recipient.keys()),
        "duplicates": duplicates,
        "repeats_before_kill": repeats,
        "arrived": sum(len(a) for a in by_recipient.values()),
        "why": why,
    }


@benchkit.register("deliveries")
class DeliverySuite:
    """Emails: ``delivery_record`` → drain by the cluster → SMTP, against a plain send loop."""

    title = "deliveries"
    unit = "emails"
    default_count = 5000
    supports_paced = True
    supports_kill = True

    def __init__(self, *, run: str, tmp: Path, base_dir: Path, options: dict) -> None:
        self.smtp_latency_ms = options.get("smtp_latency_ms") or 0
        self.run = run
        self.tmp = tmp
        self.base_dir = base_dir
        self.port = 0
        self.sink: benchkit.Child | None = None
        self.log = SinkLog(tmp / f"smtp-{run}.tsv")
        self.businesses: list[int] = []

    # -- local servers --------------------------------------------------------------------------
    def start(self) -> None:
        self.port = benchkit.free_port()
        self.sink = benchkit.Child(
            argv=[
                sys.executable,
                "-m",
                "common.smtp_sink",
                "--port",
                str(self.port),
                "--out",
                str(self.log.path),
                "--delay-ms",
                str(self.smtp_latency_ms),
            ],
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(self.base_dir)},
            log_path=self.tmp / f"smtp-{self.run}.out",
            cwd=self.base_dir,
        ).start()
        ready = benchkit.wait_until(
            lambda: "ready" in (self.sink.log_tail(5) if self.sink else ""), timeout=30
        )
        if not ready:
            raise RuntimeError(f"SMTP sink did not start:\n{self.sink.log_tail()}")

    def stop(self) -> None:
        if self.sink is not None:
            self.sink.stop(grace=5)

    def cluster_env(self, *, kill: bool = False) -> dict[str, str]:
        env = {
            "EMAIL_BACKEND": mailer.SMTP_BACKEND,
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.port),
            "EMAIL_USE_TLS": "false",
            "EMAIL_USE_SSL": "false",
            # One business per step: production's per-business limit would be the only thing
            # measured. The limiter still runs (its cache round trips count); it never refuses.
            "DELIVERY_RATE_LIMIT": str(10**9),
        }
        if kill:
            # A killed worker's rows come back when their lease expires: keep it short so the
            # run waits seconds, not minutes (the lease must outlive Q_TIMEOUT and a send).
            # Not shorter: a drain outliving Q_TIMEOUT on a loaded machine is killed by the
            # guard, a second, unplanned kill whose repeats would land after the bench's.
            env.update(
                Q_TIMEOUT="20",
                Q_RETRY="40",
                EMAIL_TIMEOUT="2",
                DELIVERY_SEND_DEADLINE_SECONDS="5",
                DELIVERY_LEASE_SECONDS="30",
            )
        return env

    # -- fixtures -------------------------------------------------------------------------------
    def prepare(self, step) -> None:
        """A business with a sent proposal: every email of the step is about it."""
        business = Business.objects.create(
            instance_id=f"bench-{step.tag}",
            site_name="Bench Studio",
            owner_email="owner@bench.example.com",
        )
        ProposalSettings.objects.get_or_create(business=business)
        client = services.client_create(
            business=business, acting_user=None, name="Bench Client", email="client@example.com"
        )
        proposal = services.proposal_create(
            business=business,
            acting_user=None,
            client=client,
            title="Benchmark",
            sections=[{"title": "Work", "items": [{"name": "Item", "unit_price": "10"}]}],
        )
        version = services.proposal_send(proposal=proposal, acting_user=None)
        self.businesses.append(business.pk)
        step.data.update(business=business, proposal=proposal, version=version)

    def recipient(self, step, index: int) -> str:
        return f"{step.tag}-{index}@bench.example.com"

    # -- the floor ------------------------------------------------------------------------------
    def floor(self, step) -> float:
        """Render and send ``step.count`` emails over one SMTP connection; no database."""
        business = Business.objects.select_related("proposal_settings").get(
            pk=step.data["business"].pk
        )
        proposal = Proposal.objects.select_related("client", "current_version").get(
            pk=step.data["proposal"].pk
        )
        version = proposal.current_version
        deliveries = [
            Delivery(
                id=10**9 + index,
                business=business,
                kind=Delivery.Kind.PROPOSAL,
                recipient=self.recipient(step, index),
                idempotency_key=f"bench:{step.tag}:{index}",
                proposal=proposal,
                version=version,
                context={},
            )
            for index in range(step.count)
        ]
        backend = EmailBackend(
            host="127.0.0.1", port=self.port, use_tls=False, use_ssl=False, timeout=10
        )
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            backend.open()
            for delivery in deliveries:
                message = mailer.build_message(delivery)
                message.connection = backend
                if backend.send_messages([message]) != 1:
                    raise RuntimeError("the floor's SMTP send failed")
            backend.close()
            seconds = time.perf_counter() - started
        if queries.captured_queries:
            raise RuntimeError(
                f"the floor ran {len(queries.captured_queries)} queries; it must run none: "
                f"{queries.captured_queries[0]['sql']}"
            )
        return seconds

    # -- the pipeline ---------------------------------------------------------------------------
    def record(self, step, indexes: range) -> None:
        for index in indexes:
            delivery_record(
                business=step.data["business"],
                kind=Delivery.Kind.PROPOSAL,
                recipient=self.recipient(step, index),
                idempotency_key=f"bench:{step.tag}:{index}",
                proposal=step.data["proposal"],
                version=step.data["version"],
            )

    def _rows(self, step):
        return Delivery.objects.filter(
            business=step.data["business"], idempotency_key__startswith=f"bench:{step.tag}:"
        )

    def progress(self, step) -> tuple[int, int]:
        """(sent, given up) among the step's deliveries."""
        counts = dict(self._rows(step).values_list("state").annotate(n=Count("pk")))
        done = sum(counts.get(state, 0) for state in DONE)
        return done, sum(counts.get(state, 0) for state in GIVEN_UP)

    def timings(self, step) -> list:
        return list(self._rows(step).filter(state__in=DONE).values_list("created_at", "sent_at"))

    def arrived(self, step) -> int:
        return self.log.count_since(step.data["mark"])

    def retried(self, step) -> int:
        return self._rows(step).filter(attempt_count__gt=1).count()

    def discard_unfinished(self, step) -> None:
        self._rows(step).exclude(state__in=DONE + GIVEN_UP).delete()

    def begin(self, step) -> None:
        step.data["mark"] = self.log.mark()

    def server_check(self, step, *, kill_time: float | None) -> dict:
        expected = {self.recipient(step, i) for i in range(step.count)}
        return classify_arrivals(self.log.since(step.data["mark"]), expected, kill_time=kill_time)

    def busy_worker_pids(self, step) -> set[int]:
        """Workers that hold a delivery of this step right now (an attempt still open)."""
        workers = DeliveryAttempt.objects.filter(
            delivery__business=step.data["business"],
            outcome=DeliveryAttempt.Outcome.IN_PROGRESS,
        ).values_list("worker", flat=True)[:50]
        pids = set()
        for worker in workers:
            found = _WORKER_PID.search(worker or "")
            if found:
                pids.add(int(found.group(1)))
        return pids

    def cleanup(self) -> None:
        Proposal.objects.filter(business_id__in=self.businesses).delete()
        Business.objects.filter(pk__in=self.businesses).delete()
        self.businesses.clear()
