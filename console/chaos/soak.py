"""``manage.py chaos --soak 30m``: mixed load at a steady rate, no fault; errors and memory.

Each second, at the run's rate: an integrator creates and sends a proposal (REST API), the
owner opens the dashboard's list and a proposal, an API client lists proposals, and every
fifth tick Wix delivers a signed webhook (a plan event); clients answer the emails as they
arrive. At the end the backlog must drain; the report gives the errors, the emails counted
as in a fault phase, and each process's resident memory at the start and the end.

The owner signs in as Wix opens the app: ``/app/?instance=…`` signed with the app secret
(the SSO of a real visit), then the dashboard with the session cookie that answer set. Every
page must answer 200: a redirect to the login page or a 404 is counted as unexpected and
misses the soak, so a dashboard that is not really visited cannot pass for one.
"""

import math
import time
from collections import Counter
from datetime import UTC, datetime

from django.conf import settings

from common import benchkit
from console.chaos import measure
from console.chaos.load import LoadError
from console.chaos.report import RECOVERY_TARGET_SECONDS
from integrations.wix.sso import dashboard_instance
from integrations.wix.standin.webhooks import sign_webhook, webhook_claims

MIN_TENANTS = 4
# A tick's emails at most: the proposal sent, then the client's copy and the owner's notice
# of the answer.
EMAILS_PER_TICK = 3
# Each business is loaded to at most this share of the product's per-business send limit, so
# the soak measures the pipeline, not the limit deferring (which is right, and not a loss).
LIMIT_SHARE = 0.5
GROWTH_LIMIT = 1.5  # a process whose memory grew more than this is reported


def tenants_for(rate: float) -> int:
    """Businesses enough that none of them meets the per-business send limit at this rate."""
    limit = settings.DELIVERY_RATE_LIMIT
    if not limit:  # no limit: any number does
        return MIN_TENANTS
    per_second = limit / settings.DELIVERY_RATE_WINDOW_SECONDS
    return max(MIN_TENANTS, math.ceil(rate * EMAILS_PER_TICK / (per_second * LIMIT_SHARE)))


def soak(run, *, seconds: float, facts: dict, stdout) -> tuple[str, bool]:
    tenants = run.install(tenants_for(run.rate), phase=0)
    ids = [t.business_id for t in tenants]
    load, stack = run.load, run.stack
    cookies = {
        tenant.business_id: sign_in(load, tenant, number) for number, tenant in enumerate(tenants)
    }
    # The dashboard opens a proposal of the business it is signed in to: its latest one.
    latest: dict[int, int] = {}
    rss_start = stack.rss()
    started_at = datetime.now(UTC)
    started = time.monotonic()
    tick = 0
    stdout.write(f"Soak: {seconds:.0f} s at {run.rate:g} ticks/s over {len(tenants)} businesses")
    next_progress = started + 60
    while time.monotonic() - started < seconds:
        due = started + tick / run.rate
        if due > time.monotonic():
            time.sleep(due - time.monotonic())
        tenant = tenants[tick % len(tenants)]
        created = load.submit_proposal(tenant, tag=f"{run.tag}-soak", index=tick)
        created.add_done_callback(
            lambda future, business_id=tenant.business_id: remember(latest, business_id, future)
        )
        cookie = {"Cookie": cookies[tenant.business_id]}
        load.submit_request("dashboard: list", "GET", "/app/", headers=cookie, expect=200)
        if tenant.business_id in latest:
            load.submit_request(
                "dashboard: proposal",
                "GET",
                f"/app/proposals/{latest[tenant.business_id]}/",
                headers=cookie,
                expect=200,
            )
        load.submit_request(
            "api: list",
            "GET",
            "/api/v1/proposals/?limit=20",
            headers={"Authorization": f"Bearer {tenant.api_key}"},
            expect=200,
        )
        if tick % 5 == 0:
            token = sign_webhook(
                webhook_claims(
                    event_type="PaidPlanPurchased",
                    instance_id=tenant.instance_id,
                    data={
                        "vendorProductId": "chaos-pro",
                        "operationTimeStamp": datetime.now(UTC).isoformat(),
                    },
                )
            )
            load.submit_request(
                "webhook",
                "POST",
                "/integrations/wix/webhooks/",
                content=token,
                headers={"Content-Type": "text/plain"},
                expect=200,
            )
        tick += 1
        if time.monotonic() >= next_progress:
            next_progress += 60
            tally = run.tally
            stdout.write(
                f"  {time.monotonic() - started:5.0f} s: {sum(tally.requests.values())} requests, "
                f"{len(tally.server_errors)} 5xx, {len(tally.unexpected)} unexpected, "
                f"{len(tally.cut)} without an answer; "
                f"{behind(started, tick, run.rate)} ticks behind, {load.busy()} in flight; "
                f"load {benchkit.load_average()}"
            )
    offered = time.monotonic() - started
    lag = behind(started, tick, run.rate)
    in_flight = load.busy()
    drained_at = None
    ended = time.monotonic()
    left: dict[str, int] = {}
    while time.monotonic() - ended < run.recovery_timeout:
        left = measure.safe(lambda: measure.backlog(ids, since=started_at), default={"?": 1})
        if not any(left.values()) and load.busy() == 0:
            drained_at = time.monotonic() - ended
            break
        time.sleep(0.5)
    rss_end = stack.rss()
    emails = measure.count_emails(
        business_ids=ids,
        arrivals=lambda: measure.accepted_by_server(stack.accepted_log),
        kill_times=[],
    )
    tally = run.tally
    grew = {
        name: (rss_start[name], rss_end[name])
        for name in rss_start
        if name in rss_end and rss_end[name] > GROWTH_LIMIT * rss_start[name]
    }
    met = (
        not tally.server_errors
        and not tally.unexpected
        and not tally.cut
        and emails.lost == 0
        and emails.duplicates == 0
        and drained_at is not None
        and drained_at <= RECOVERY_TARGET_SECONDS
        and not stack.dead()
    )
    lines = [
        f"Soak of {started_at:%Y-%m-%d %H:%M} UTC: {offered / 60:.1f} minutes at "
        f"{run.rate:g} ticks/s (a proposal created and sent, the dashboard's list and latest "
        "proposal signed in through Wix's `instance`, an API list per tick; a webhook every "
        "fifth), clients answering every email.",
        "",
        "Machine: "
        + "; ".join(f"{k} {v}" for k, v in facts.items())
        + f"; load average at the end {benchkit.load_average()}.",
        "",
        "| requests | 5xx | unexpected answers | no answer | gave up | emails expected | "
        "received | lost | duplicated | failed | backlog drained after |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {sum(tally.requests.values())} | {len(tally.server_errors)} | "
        f"{len(tally.unexpected)} | {len(tally.cut)} | "
        f"{len(tally.gave_up)} | {emails.expected} | {emails.received} | "
        f"{measure.lost_cell(emails)} | "
        f"{emails.duplicates} | {emails.failed} | "
        + ("never" if drained_at is None else f"{drained_at:.1f} s")
        + " |",
        "",
        f"The load offered {tick} ticks of {math.ceil(offered * run.rate)} due "
        f"({lag} behind when it stopped, {in_flight} requests in flight).",
        "",
        "Requests by kind: "
        + ", ".join(f"{k} {v}" for k, v in sorted(tally.requests.items()))
        + "; answers by class: "
        + ", ".join(f"{k // 100}xx {v}" for k, v in sorted(tally.statuses.items()))
        + ".",
        "",
        "Resident memory (MiB):",
        "",
        "| process | start | end |",
        "|---|---|---|",
        *[
            f"| {name} | {rss_start.get(name, 0) / 1024:.0f} | {rss_end.get(name, 0) / 1024:.0f} |"
            for name in sorted(set(rss_start) | set(rss_end))
        ],
    ]
    if tally.unexpected:
        wrong = Counter(f"{what} {status}" for _, what, status in tally.unexpected)
        lines += [
            "",
            "Unexpected answers: " + ", ".join(f"{k} ×{n}" for k, n in sorted(wrong.items())) + ".",
        ]
    if drained_at is None:
        still = {k: v for k, v in left.items() if v}
        lines += [
            "",
            f"Left after {run.recovery_timeout:.0f} s: "
            + (", ".join(f"{k} {v}" for k, v in sorted(still.items())) or "nothing")
            + f"; {load.busy()} requests in flight.",
        ]
    if grew:
        lines += ["", "Grew more than 1.5×: " + ", ".join(sorted(grew)) + "."]
    if stack.dead():
        lines += ["", "Died during the soak: " + ", ".join(stack.dead()) + "."]
    return "\n".join(lines), met


def behind(started: float, tick: int, rate: float) -> int:
    """Ticks the load is late on its schedule: the machine could not offer the rate asked."""
    return max(0, math.floor((time.monotonic() - started) * rate) - tick)


def sign_in(load, tenant, number: int) -> str:
    """The owner of a tenant's site opens the app from Wix; the session ``Cookie`` it got."""
    instance = dashboard_instance(
        tenant.instance_id,
        uid=f"chaos-owner-{number}",
        secret=settings.WIX_APP_SECRET,
        app_id=settings.WIX_APP_ID,
    )
    try:
        return load.dashboard_session(instance)
    except LoadError as exc:
        raise RuntimeError(f"the soak's owner could not sign in: {exc}") from None


def remember(latest: dict[int, int], business_id: int, future) -> None:
    if not future.cancelled() and future.exception() is None and future.result() is not None:
        latest[business_id] = future.result()
