"""The contact-sync and webhook suites of ``manage.py bench_deliveries`` (common/benchkit.py).

Both run against the Wix stand-in (``manage.py wix_standin``, started here on a free port, no
faults switched on). The stand-in limits each instance to 200 calls a minute, as Wix does:
contact syncs are spread over businesses of ``CONTACTS_PER_BUSINESS`` clients, and every
webhook is the install of a new instance.
"""

import math
import os
import time
from datetime import timedelta
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from django.conf import settings
from django.db import connection
from django.db.models import Count, QuerySet
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Business
from common import benchkit
from integrations.contacts import contact_sync_request
from integrations.models import CircuitBreaker, WebhookReceipt, WixAccessToken, WixContactSync
from integrations.support import breaker_reset
from integrations.webhooks import webhook_receive
from integrations.wix.standin.webhooks import DEV_PRIVATE_KEY, sign_webhook, webhook_claims
from proposals.models import Client

# 2 calls per sync: 40 syncs keep an instance at 80 of its 200 calls a minute.
CONTACTS_PER_BUSINESS = 40


class _StandinSuite:
    """Starts the stand-in in its own process; the floor talks to it over one connection."""

    default_count = 2000
    supports_paced = False
    supports_kill = False
    unfinished: tuple[str, ...]  # each suite's statuses of rows still in flight

    def __init__(self, *, run: str, tmp: Path, base_dir: Path, options: dict) -> None:
        self.run = run
        self.tmp = tmp
        self.base_dir = base_dir
        self.url = ""
        self.standin: benchkit.Child | None = None
        self.instance_prefixes: list[str] = []

    def start(self) -> None:
        port = benchkit.free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.standin = benchkit.Child(
            argv=benchkit.manage_py(self.base_dir, "wix_standin", "--port", str(port)),
            env={
                **_child_env(),
                "WIX_APP_ID": settings.WIX_APP_ID,
                "WIX_APP_SECRET": settings.WIX_APP_SECRET,
            },
            log_path=self.tmp / f"standin-{self.run}.log",
            cwd=self.base_dir,
        ).start()
        if not benchkit.wait_until(self._up, timeout=60, every=0.3):
            raise RuntimeError(f"Wix stand-in did not start:\n{self.standin.log_tail()}")

    def _up(self) -> bool:
        try:
            return httpx.get(self.url + "/__stats", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.standin is not None:
            self.standin.stop(grace=5)

    def cluster_env(self, *, kill: bool = False) -> dict[str, str]:
        return {
            "WIX_API_BASE_URL": self.url,
            "WIX_APP_ID": settings.WIX_APP_ID,
            "WIX_APP_SECRET": settings.WIX_APP_SECRET,
        }

    def stats(self) -> dict[str, int]:
        return httpx.get(self.url + "/__stats", timeout=10).json()["counts"]

    def begin(self, step) -> None:
        # A breaker an earlier suite left open says nothing of this suite's stand-in: the
        # deliveries suite's workers have no Wix to call, and fail the contact syncs its sent
        # proposals record (its own rows go with its cleanup; the shared breaker row stayed).
        for api in CircuitBreaker.objects.values_list("api", flat=True):
            breaker_reset(api=api)
        step.data["stats"] = self.stats()
        step.data["since"] = timezone.now() - timedelta(seconds=1)

    def calls_since(self, step) -> int:
        before = step.data["stats"]
        return sum(n - before.get(key, 0) for key, n in self.stats().items())

    def _token(self, http: httpx.Client, instance_id: str) -> str:
        answer = http.post(
            "/oauth2/token",
            json={
                "grant_type": "client_credentials",
                "client_id": settings.WIX_APP_ID,
                "client_secret": settings.WIX_APP_SECRET,
                "instance_id": instance_id,
            },
        )
        answer.raise_for_status()
        return answer.json()["access_token"]

    def _floor_loop(self, work) -> float:
        """Time ``work(http)`` over one keep-alive connection, asserting it runs no query."""
        with httpx.Client(base_url=self.url, timeout=10) as http:
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                work(http)
                seconds = time.perf_counter() - started
        if queries.captured_queries:
            raise RuntimeError(f"the floor ran {len(queries.captured_queries)} queries")
        return seconds

    def cleanup(self) -> None:
        for prefix in self.instance_prefixes:
            WebhookReceipt.objects.filter(instance_id__startswith=prefix).delete()
            Business.objects.filter(instance_id__startswith=prefix).delete()
            WixAccessToken.objects.filter(instance_id__startswith=prefix).delete()
        self.instance_prefixes.clear()

    def busy_worker_pids(self, step) -> set[int]:
        return set()

    def _rows(self, step) -> QuerySet:
        """The rows this step recorded (each suite its own table)."""
        raise NotImplementedError

    def retried(self, step) -> int:
        return self._rows(step).filter(attempt_count__gt=1).count()

    def discard_unfinished(self, step) -> None:
        self._rows(step).filter(status__in=self.unfinished).delete()


@benchkit.register("contacts")
class ContactSyncSuite(_StandinSuite):
    """Contact syncs: ``contact_sync_request`` → drain → query + create at the stand-in."""

    title = "contact syncs"
    unfinished = (WixContactSync.Status.PENDING, WixContactSync.Status.RUNNING)

    def prepare(self, step) -> None:
        """Businesses and their clients (fixtures, written in bulk: not what is timed)."""
        prefix = f"bench-{step.tag}-"
        self.instance_prefixes.append(prefix)
        count = math.ceil(step.count / CONTACTS_PER_BUSINESS)
        businesses = Business.objects.bulk_create(
            Business(instance_id=f"{prefix}{k}", site_name=f"Bench {k}") for k in range(count)
        )
        clients = Client.objects.bulk_create(
            Client(
                business=businesses[i // CONTACTS_PER_BUSINESS],
                name=f"Client {i}",
                email=f"{step.tag}-{i}@bench.example.com",
            )
            for i in range(step.count)
        )
        step.data.update(businesses=businesses, clients=clients)

    def floor(self, step) -> float:
        clients = step.data["clients"]

        def work(http: httpx.Client) -> None:
            tokens: dict[int, str] = {}
            for index, client in enumerate(clients):
                business = step.data["businesses"][index // CONTACTS_PER_BUSINESS]
                token = tokens.get(business.pk) or self._token(http, business.instance_id)
                tokens[business.pk] = token
                headers = {"Authorization": token}
                email = client.email.lower()
                query = {
                    "query": {
                        "filter": {"info.emails.email": {"$eq": email}},
                        "paging": {"limit": 1},
                    }
                }
                found = http.post("/contacts/v4/contacts/query", json=query, headers=headers)
                found.raise_for_status()
                if found.json().get("contacts"):
                    continue
                first, _, last = client.name.partition(" ")
                info = {
                    "name": {"first": first, "last": last},
                    "emails": {"items": [{"email": email, "tag": "MAIN"}]},
                }
                http.post(
                    "/contacts/v4/contacts", json={"info": info}, headers=headers
                ).raise_for_status()

        return self._floor_loop(work)

    def record(self, step, indexes: range) -> None:
        clients = step.data["clients"]
        for index in indexes:
            contact_sync_request(client=clients[index], reason="proposal_sent")

    def _rows(self, step):
        return WixContactSync.objects.filter(business__in=[b.pk for b in step.data["businesses"]])

    def progress(self, step) -> tuple[int, int]:
        counts = dict(self._rows(step).values_list("status").annotate(n=Count("pk")))
        return (
            counts.get(WixContactSync.Status.SYNCED, 0),
            counts.get(WixContactSync.Status.FAILED, 0),
        )

    def timings(self, step) -> list:
        return list(
            self._rows(step)
            .filter(status=WixContactSync.Status.SYNCED)
            .values_list("created_at", "synced_at")
        )

    def arrived(self, step) -> int:
        return self.progress(step)[0]

    def server_check(self, step, *, kill_time: float | None) -> dict:
        """Contacts the stand-in holds for the step's instances, against the clients."""
        duplicates = found = 0
        for business in step.data["businesses"]:
            answer = httpx.get(
                self.url + "/__contacts", params={"instance_id": business.instance_id}, timeout=10
            )
            emails = [
                item["email"]
                for contact in answer.json()["contacts"]
                for item in contact.get("info", {}).get("emails", {}).get("items", [])
            ]
            found += len(set(emails))
            duplicates += len(emails) - len(set(emails))
        return {"lost_at_server": step.count - found, "duplicates": duplicates}


@benchkit.register("webhooks")
class WebhookSuite(_StandinSuite):
    """Webhook receipts: ``webhook_receive`` (signed installs) → drain → install + 2 Wix calls."""

    title = "webhook receipts"
    unfinished = (WebhookReceipt.Status.PENDING, WebhookReceipt.Status.PROCESSING)

    def prepare(self, step) -> None:
        """Signed bodies made beforehand: signing is the sender's cost, not ours."""
        prefix = f"bench-{step.tag}-"
        self.instance_prefixes.append(prefix)
        step.data["instances"] = [f"{prefix}{i}" for i in range(step.count)]
        if step.kind != "floor":
            # Loaded once: parsing the PEM (its RSA checks) costs ~100x the signature itself.
            key = load_pem_private_key(DEV_PRIVATE_KEY.encode(), password=None)
            assert isinstance(key, RSAPrivateKey)  # the stand-in's key, for RS256
            step.data["bodies"] = [
                sign_webhook(
                    webhook_claims(event_type="AppInstalled", instance_id=instance_id),
                    private_key=key,
                ).encode()
                for instance_id in step.data["instances"]
            ]

    def floor(self, step) -> float:
        """What processing an install asks of Wix: a token, the instance, the site."""

        def work(http: httpx.Client) -> None:
            for instance_id in step.data["instances"]:
                headers = {"Authorization": self._token(http, instance_id)}
                http.get("/apps/v1/instance", headers=headers).raise_for_status()
                http.get("/site-properties/v4/properties", headers=headers).raise_for_status()

        return self._floor_loop(work)

    def record(self, step, indexes: range) -> None:
        bodies = step.data["bodies"]
        for index in indexes:
            receipt, status, reason = webhook_receive(body=bodies[index], size=len(bodies[index]))
            if status != 200:
                raise RuntimeError(f"the bench's webhook was refused: {status} {reason}")

    def _rows(self, step):
        return WebhookReceipt.objects.filter(
            instance_id__startswith=f"bench-{step.tag}-", received_at__gte=step.data["since"]
        )

    def progress(self, step) -> tuple[int, int]:
        counts = dict(self._rows(step).values_list("status").annotate(n=Count("pk")))
        Status = WebhookReceipt.Status
        return (
            counts.get(Status.PROCESSED, 0) + counts.get(Status.IGNORED, 0),
            counts.get(Status.FAILED, 0),
        )

    def timings(self, step) -> list:
        return list(
            self._rows(step)
            .filter(processed_at__isnull=False)
            .values_list("received_at", "processed_at")
        )

    def arrived(self, step) -> int:
        return self.progress(step)[0]

    def server_check(self, step, *, kill_time: float | None) -> dict:
        """Each install asks the stand-in for its instance once: more is a repeat."""
        if step.kind == "floor":
            return {"lost_at_server": 0, "duplicates": 0}
        installed = Business.objects.filter(
            instance_id__startswith=f"bench-{step.tag}-", site_name__startswith="Site "
        ).count()
        asked = self.stats().get("GET /apps/v1/instance", 0) - step.data["stats"].get(
            "GET /apps/v1/instance", 0
        )
        return {"lost_at_server": step.count - installed, "duplicates": max(0, asked - installed)}


def _child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "DEBUG": "false"}
