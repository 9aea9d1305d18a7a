"""One chaos run: the tenants, then each fault in turn over its share of the load, counted.

A phase has businesses of its own (so its emails, contact syncs and webhooks are told apart
by business), switches its fault on, offers its load at the run's steady rate, switches the
fault off ("recovery") and waits until its backlog is empty: every email sent or given up,
every contact sync and webhook finished, every proposal whose email arrived answered by its
client. Then it counts.
"""

import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import structlog
from django.db import connection

from accounts.models import Business
from accounts.services import api_key_create
from console.chaos import measure
from console.chaos.faults import Fault
from console.chaos.load import Load, Tally, Tenant, paced
from integrations.wix.standin.webhooks import sign_webhook, webhook_claims
from proposals.models import Delivery

log = structlog.get_logger(__name__)

PROPOSALS_PER_TENANT = 15  # keeps an instance under the stand-in's 200 Wix calls a minute


@dataclass
class PhaseResult:
    name: str
    what: str
    proposals: int = 0
    seconds_on: float = 0.0
    recovery_seconds: float | None = None  # fault off → backlog empty; None: never emptied
    largest_queue_age: float = 0.0
    emails: measure.EmailCount = field(default_factory=measure.EmailCount)
    failed_shown: int = 0
    requests: int = 0
    server_errors: int = 0
    server_errors_outside_window: int = 0
    cut: int = 0
    gave_up: list[str] = field(default_factory=list)
    wix_calls: int = 0
    wix_rate: float = 0.0
    backlog_left: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: str = ""


class Run:
    def __init__(self, *, stack, postgres, options: dict) -> None:
        self.stack = stack
        self.postgres = postgres
        self.rate = options["rate"]
        self.recovery_timeout = options["recovery_timeout"]
        self.phase_seconds = options.get("phase_seconds", 0.0)
        self.tag = uuid.uuid4().hex[:6]
        self.tally = Tally()
        self.load = Load(base_url=stack.web_url, links_log=stack.links_log, tally=self.tally)
        self.sampler = measure.Sampler()
        self.phase_business_ids: list[int] = []
        self.current: PhaseResult | None = None
        self.windows: list[tuple[float, float]] = []
        self.kills: list[float] = []
        self.results: list[PhaseResult] = []

    # -- what faults report -------------------------------------------------------------------
    def note(self, text: str) -> None:
        if self.current is not None:
            self.current.notes.append(text)
        log.info("chaos_note", note=text)

    def note_kill(self, text: str) -> None:
        self.kills.append(time.time())
        self.note(text)

    def window(self, start: float, end: float) -> None:
        """5xx are allowed between these times (the PostgreSQL restart)."""
        self.windows.append((start, end))

    # -- tenants ------------------------------------------------------------------------------
    def install(self, count: int, *, phase: int) -> list[Tenant]:
        """Businesses installed as Wix installs them (a signed webhook), paid, with an API key."""
        instances = [f"chaos-{self.tag}-{phase}-{k}" for k in range(count)]
        url = self.stack.web_url + "/integrations/wix/webhooks/"
        with httpx.Client(timeout=30) as http:
            for instance_id in instances:
                # A paid site at Wix: the install reads the plan from the app instance.
                http.post(
                    self.stack.wix_url + "/__instances",
                    json={
                        "instance_id": instance_id,
                        "is_free": False,
                        "vendor_product_id": "chaos-pro",
                    },
                ).raise_for_status()
                token = sign_webhook(
                    webhook_claims(event_type="AppInstalled", instance_id=instance_id)
                )
                answer = http.post(url, content=token, headers={"Content-Type": "text/plain"})
                if answer.status_code != 200:
                    raise RuntimeError(f"AppInstalled webhook answered {answer.status_code}")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            paid = Business.objects.filter(
                instance_id__in=instances, plan=Business.Plan.PAID
            ).count()
            if paid == len(instances):
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"only {paid} of {len(instances)} businesses installed and paid")
        tenants = []
        for business in Business.objects.filter(instance_id__in=instances).order_by("pk"):
            _, raw = api_key_create(business=business, name="chaos", acting_user=None)
            tenants.append(Tenant(business.instance_id, business.pk, raw))
        return tenants

    # -- phases -------------------------------------------------------------------------------
    def plan(self, faults: list[Fault], *, count: int) -> list[tuple[Fault, int]]:
        """Proposals per phase: a timed fault gets its duration's worth, the rest share."""
        timed = {f.name: max(1, int(self.rate * f.seconds)) for f in faults if f.seconds}
        rest = max(0, count - sum(timed.values()))
        others = [f for f in faults if not f.seconds]
        # Long enough for the fault to meet emails and Wix calls in flight, not only new ones.
        share = max(int(self.rate * self.phase_seconds), rest // max(1, len(others)))
        return [(f, timed.get(f.name, share)) for f in faults]

    def run(self, plan: list[tuple[Fault, int]], *, progress=print) -> list[PhaseResult]:
        tenants = [
            self.install(max(1, math.ceil(n / PROPOSALS_PER_TENANT)), phase=i)
            for i, (_, n) in enumerate(plan)
        ]
        progress(f"{sum(len(t) for t in tenants)} businesses installed through signed webhooks")
        stop_sampling = threading.Event()
        sampler = threading.Thread(target=self._sample, args=(stop_sampling,), daemon=True)
        sampler.start()
        try:
            for (fault, n), phase_tenants in zip(plan, tenants, strict=True):
                result = self.phase(fault, n, phase_tenants)
                self.results.append(result)
                progress(one_line(result))
        finally:
            stop_sampling.set()
            self.load.close()
        return self.results

    def _sample(self, stop: threading.Event) -> None:
        while not stop.wait(1.0):
            self.sampler.sample()
        connection.close()

    def phase(self, fault: Fault, n: int, tenants: list[Tenant]) -> PhaseResult:
        result = PhaseResult(fault.name, fault.what, proposals=n)
        self.current = result
        ids = [t.business_id for t in tenants]
        self.phase_business_ids = ids
        self.tally = self.load.tally = Tally()
        self.windows, self.kills = [], []
        self.sampler.reset(ids)
        wix_before = self.stack.wix_calls()
        fault.on(self)
        started = time.monotonic()
        middle = None
        if fault.middle is not None:
            delay = n / self.rate / 2
            middle = threading.Timer(delay, fault.middle, args=(self,))
            middle.start()

        tag = f"{self.tag}-{len(self.results)}"

        def offer_tagged(index: int) -> None:
            self.load.submit_proposal(tenants[index % len(tenants)], tag=tag, index=index)

        paced(n, self.rate, offer_tagged)
        if fault.seconds:
            remaining = fault.seconds - (time.monotonic() - started)
            if remaining > 0:
                time.sleep(remaining)
        if middle is not None:
            middle.join()
        result.seconds_on = time.monotonic() - started
        result.wix_calls = measure.safe(self.stack.wix_calls, default=wix_before) - wix_before
        result.wix_rate = result.wix_calls / result.seconds_on if result.seconds_on else 0.0
        fault.off(self)
        recovered = time.monotonic()
        since = datetime.now(UTC)
        left: dict = {}
        while time.monotonic() - recovered < self.recovery_timeout:
            left = measure.safe(lambda: measure.backlog(ids, since=since), default={"?": 1})
            if not any(left.values()) and self.load.busy() == 0:
                result.recovery_seconds = time.monotonic() - recovered
                break
            time.sleep(0.5)
        result.backlog_left = {k: v for k, v in left.items() if v}
        result.largest_queue_age = self.sampler.largest
        self._count(result, ids, tenants)
        self.current = None
        return result

    def _count(self, result: PhaseResult, ids: list[int], tenants: list[Tenant]) -> None:
        result.emails = measure.safe(
            lambda: measure.count_emails(
                business_ids=ids,
                arrivals=lambda: measure.accepted_by_server(self.stack.accepted_log),
                kill_times=self.kills,
            ),
            default=measure.EmailCount(),
        )
        result.failed_shown = sum(self.failed_shown_by_api(t) for t in tenants)
        syncs_failed = measure.safe(lambda: measure.contact_syncs_failed(ids), default=0)
        if syncs_failed:
            self.note(f"{syncs_failed} contact syncs failed for good (their retries ran out)")
        tally = self.tally
        result.requests = sum(tally.requests.values())
        result.server_errors = len(tally.server_errors)
        result.server_errors_outside_window = sum(
            1
            for moment, _, _ in tally.server_errors
            if not any(start <= moment <= end for start, end in self.windows)
        )
        result.cut = len(tally.cut)
        result.gave_up = list(tally.gave_up)

    def failed_shown_by_api(self, tenant: Tenant) -> int:
        """Failed and bounced emails the business sees in its API, each with a reason."""
        shown = 0
        states = [state for state in Delivery.FAILED_STATES if state in Delivery.FINAL_STATES]
        with httpx.Client(base_url=self.stack.web_url, timeout=30) as http:
            for state in states:
                shown += self._shown(http, tenant, f"/api/v1/deliveries/?state={state}&limit=100")
        return shown

    @staticmethod
    def _shown(http: httpx.Client, tenant: Tenant, url: str) -> int:
        shown = 0
        while url:
            answer = http.get(url, headers={"Authorization": f"Bearer {tenant.api_key}"})
            if answer.status_code != 200:
                return shown
            body = answer.json()
            shown += sum(1 for d in body["results"] if (d.get("last_error") or "").strip())
            url = body.get("next") or ""
        return shown


def one_line(result: PhaseResult) -> str:
    e = result.emails
    recovery = "never" if result.recovery_seconds is None else f"{result.recovery_seconds:.1f} s"
    return (
        f"{result.name}: {result.proposals} proposals, emails {e.expected} expected / "
        f"{e.received} received / {e.lost} lost / {e.duplicates} duplicated"
        f" (+{e.allowed_repeats} allowed) / {e.failed} failed, {e.bounced} bounced "
        f"({result.failed_shown} shown); "
        f"5xx {result.server_errors} ({result.server_errors_outside_window} outside a window), "
        f"{result.cut} cut; Wix {result.wix_rate:.1f}/s; queue age max "
        f"{result.largest_queue_age:.0f} s; recovery {recovery}"
    )
