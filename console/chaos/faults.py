"""The fault matrix: what each phase switches on, does in the middle of its load, switches off.

A fault acts on the run (``console.chaos.run.Run``): its stack (SMTP control file, stand-in
``/__faults``, process ids) and its own PostgreSQL. Kills pick their victim as an operator's
bad luck would: a worker that holds a delivery right now, a web worker serving requests.
"""

import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from proposals.models import DeliveryAttempt

_WORKER_PID = re.compile(r":(\d+)$")


@dataclass(frozen=True)
class Fault:
    name: str
    what: str
    on: Callable = lambda run: None
    off: Callable = lambda run: None
    middle: Callable | None = None  # done once, halfway through the phase's load
    seconds: float | None = None  # the fault lasts this long (else: the phase's load)
    needs: str = ""  # a capability the product must have; the phase is skipped without it


def _smtp(**behaviour) -> Callable:
    return lambda run: run.stack.smtp(**behaviour)


def _smtp_normal(run) -> None:
    run.stack.smtp(mode="accept")


def _wix(**faults) -> Callable:
    return lambda run: run.stack.wix_faults(**faults)


def _wix_normal(run) -> None:
    run.stack.wix_faults()


def busy_worker_pids(business_ids: list[int]) -> set[int]:
    """Workers holding a delivery of these businesses right now (an attempt still open)."""
    workers = DeliveryAttempt.objects.filter(
        delivery__business_id__in=business_ids, outcome=DeliveryAttempt.Outcome.IN_PROGRESS
    ).values_list("worker", flat=True)[:50]
    return {int(m.group(1)) for w in workers if (m := _WORKER_PID.search(w or ""))}


def kill_busy_worker(run) -> None:
    """SIGKILL one worker process of cluster A while it sends a batch (waits up to 20 s)."""
    cluster = run.stack.clusters[0]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        busy = busy_worker_pids(run.phase_business_ids) & cluster.processes()
        if busy:
            victim = min(busy)
            os.kill(victim, signal.SIGKILL)
            run.note_kill(f"SIGKILL worker {victim} of cluster A while it held a delivery")
            return
        time.sleep(0.05)
    run.note("no worker of cluster A was sending within 20 s: nothing killed")


def restart_postgres(run) -> None:
    started = time.time()
    seconds = run.postgres.restart()
    run.window(started, time.time() + 5)
    run.note(f"pg_ctl restart -m fast: {seconds:.1f} s until it answered")


def kill_web_worker(run) -> None:
    workers = run.stack.gunicorn_workers()
    if not workers:
        run.note("no gunicorn worker found")
        return
    victim = workers[len(workers) // 2]
    os.kill(victim, signal.SIGKILL)
    run.note_kill(f"SIGKILL gunicorn worker {victim} of {len(workers)}")


def start_bouncing(run) -> None:
    from console.chaos.bounces import Bouncer

    run.stack.smtp(mode="accept")
    run.bouncer = Bouncer(
        load=run.load,
        accepted_log=run.stack.accepted_log,
        key=run.stack.env["MAILGUN_WEBHOOK_SIGNING_KEY"],
        rate=0.2,
    )
    run.bouncer.start()


def stop_bouncing(run) -> None:
    run.bouncer.stop()
    run.note(f"{run.bouncer.posted} hard bounces reported by the mail service's webhook")


def matrix(*, outage_seconds: float, scale: float) -> list[Fault]:
    storm = max(50, int(400 * scale))
    return [
        Fault("baseline", "no fault: the normal rate of Wix calls and emails"),
        Fault(
            "SMTP 421",
            "every RCPT answered 421 (try again later)",
            on=_smtp(mode="421", rate=1.0),
            off=_smtp_normal,
        ),
        Fault(
            "SMTP 550",
            "RCPT answered 550 (no such mailbox) for one address in five",
            on=_smtp(mode="550", rate=0.2),
            off=_smtp_normal,
        ),
        Fault(
            "SMTP hang",
            "no answer after DATA for 30% of the messages",
            on=_smtp(mode="hang", rate=0.3),
            off=_smtp_normal,
        ),
        Fault(
            "SMTP dropped connection",
            "connection closed after DATA, no answer, for 30% of the messages",
            on=_smtp(mode="drop", rate=0.3),
            off=_smtp_normal,
        ),
        Fault(
            "Wix 60% 503",
            "60% of Wix API calls answered 503",
            on=_wix(error_rate=0.6, error_status=503),
            off=_wix_normal,
        ),
        Fault(
            "Wix 429 storm",
            f"the next {storm} Wix API calls answered 429 with Retry-After: 2",
            on=_wix(storm_429=storm, retry_after=2),
            off=_wix_normal,
        ),
        Fault(
            "Wix hangs",
            "every Wix API call accepted and never answered",
            on=_wix(hang=True, hang_seconds=120),
            off=_wix_normal,
        ),
        Fault(
            "Wix outage",
            f"every Wix API call answered 503 for {outage_seconds:g} s "
            f"(10 minutes × time scale {scale:g})",
            on=_wix(outage=True),
            off=_wix_normal,
            seconds=outage_seconds,
        ),
        Fault(
            "worker SIGKILL",
            "a worker of cluster A SIGKILLed while it sends a batch (SMTP 40 ms a message)",
            on=_smtp(mode="accept", delay_ms=40),
            off=_smtp_normal,
            middle=kill_busy_worker,
        ),
        Fault(
            "PostgreSQL restart",
            "the run's PostgreSQL restarted (pg_ctl restart -m fast) under load",
            middle=restart_postgres,
        ),
        Fault(
            "gunicorn worker killed",
            "one gunicorn worker SIGKILLed under load",
            middle=kill_web_worker,
        ),
        # Last: it needs the mail service's tracking webhook (django-anymail, Mailgun).
        Fault(
            "SMTP accepted, then bounced",
            "every message accepted; the mail service then reports a hard bounce (signed "
            "Mailgun webhook) for one client address in five",
            on=start_bouncing,
            off=stop_bouncing,
        ),
    ]
