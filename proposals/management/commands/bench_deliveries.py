"""Benchmark the delivery pipeline end to end: outbox rows → django-q2 cluster → loopback SMTP.

Starts an SMTP server on loopback (aiosmtpd) and a real ``qcluster`` with ``--workers``
processes on the configured database, records ``--count`` deliveries through
``delivery_record`` (so each is enqueued on commit, as in production), waits until all are
sent and reports deliveries per second and enqueue-to-sent latency percentiles.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import Business
from proposals import services
from proposals.delivery.services import delivery_record
from proposals.models import Delivery, Proposal


class _Counter:
    """SMTP handler that accepts everything and counts messages per recipient."""

    def __init__(self) -> None:
        self.count = 0
        self.per_recipient: Counter = Counter()

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        self.per_recipient.update(envelope.rcpt_tos)
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


class Command(BaseCommand):
    help = "Send N deliveries through a real django-q2 cluster to a loopback SMTP server."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--count", type=int, default=1000)
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--chunk", type=int, default=100, help="deliveries per transaction")
        parser.add_argument(
            "--rate", type=float, default=0, help="deliveries recorded per second (0: a burst)"
        )
        parser.add_argument("--timeout", type=float, default=600)
        parser.add_argument("--log-level", default="WARNING")
        parser.add_argument("--keep", action="store_true", help="keep the benchmark rows")

    def handle(self, *args, count: int, workers: int, chunk: int, timeout: float, **options):
        from aiosmtpd.controller import Controller

        if count < 1 or workers < 1:
            raise CommandError("--count and --workers must be positive")
        counter = _Counter()
        port = _free_port()
        smtp = Controller(counter, hostname="127.0.0.1", port=port)
        smtp.start()
        run = uuid.uuid4().hex[:8]
        business = Business.objects.create(
            instance_id=f"bench-{run}", site_name="Bench Studio", owner_email="bench@example.com"
        )
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

        env = {k: v for k, v in os.environ.items()}
        env.update(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(port),
            EMAIL_USE_TLS="false",
            EMAIL_USE_SSL="false",
            Q_WORKERS=str(workers),
            DELIVERY_RATE_LIMIT="0",
            LOG_LEVEL=options["log_level"],
            LOG_FORMAT="json",
        )
        log_path = Path(tempfile.gettempdir()) / f"bench-qcluster-{run}.log"
        with open(log_path, "wb") as log_file:
            cluster = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            time.sleep(3)  # let the cluster start its workers
            self.stdout.write(f"recording {count} deliveries ({workers} workers) …")
            started = time.monotonic()
            first_recorded = timezone.now()
            rate = options["rate"]
            if rate:
                chunk = 1  # paced: one delivery per transaction, as requests record them
            for offset in range(0, count, chunk):
                if rate:
                    pause = started + offset / rate - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                with transaction.atomic():
                    for i in range(offset, min(offset + chunk, count)):
                        delivery_record(
                            business=business,
                            kind=Delivery.Kind.PROPOSAL,
                            recipient=f"client{i}@example.com",
                            idempotency_key=f"bench:{run}:{i}",
                            proposal=proposal,
                            version=version,
                        )
            recorded_s = time.monotonic() - started
            bench = Delivery.objects.filter(idempotency_key__startswith=f"bench:{run}:")
            deadline = time.monotonic() + timeout
            while True:
                sent = bench.filter(state=Delivery.State.SENT).count()
                if sent >= count:
                    break
                if time.monotonic() > deadline or cluster.poll() is not None:
                    raise CommandError(
                        f"only {sent}/{count} sent; cluster log: {log_path} "
                        f"(states: {list(bench.values_list('state', flat=True).distinct())})"
                    )
                time.sleep(0.2)
            rows = list(bench.values_list("created_at", "sent_at"))
            last_sent = max(sent_at for _, sent_at in rows)
            elapsed = (last_sent - first_recorded).total_seconds()
            latencies = [(sent_at - created).total_seconds() * 1000 for created, sent_at in rows]
            report = {
                "count": count,
                "workers": workers,
                "rate": options["rate"] or "burst",
                "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
                "broker": settings.Q_BROKER,
                "record_seconds": round(recorded_s, 2),
                "elapsed_seconds": round(elapsed, 2),
                "deliveries_per_second": round(count / elapsed, 1),
                "latency_ms": {
                    "p50": round(percentile(latencies, 50)),
                    "p95": round(percentile(latencies, 95)),
                    "p99": round(percentile(latencies, 99)),
                    "max": round(max(latencies)),
                },
                "smtp_messages": counter.count,
                "duplicates": sum(
                    n - 1
                    for address, n in counter.per_recipient.items()
                    if address.startswith("client") and n > 1
                ),
            }
            self.stdout.write(
                f"{count} deliveries in {report['elapsed_seconds']} s = "
                f"{report['deliveries_per_second']}/s; enqueue-to-sent latency "
                f"p50 {report['latency_ms']['p50']} ms, p95 {report['latency_ms']['p95']} ms, "
                f"p99 {report['latency_ms']['p99']} ms"
            )
            self.stdout.write(json.dumps(report))
        finally:
            if cluster.poll() is None:
                os.killpg(cluster.pid, signal.SIGTERM)
                try:
                    cluster.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(cluster.pid, signal.SIGKILL)
            smtp.stop()
            if not options["keep"]:
                # Proposals protect their client: remove them (and their rows) first.
                Proposal.objects.filter(business=business).delete()
                Business.objects.filter(pk=business.pk).delete()
                log_path.unlink(missing_ok=True)
