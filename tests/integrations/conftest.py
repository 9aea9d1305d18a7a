import threading
from dataclasses import dataclass
from types import SimpleNamespace

import httpx
import pytest
from django.core.cache import cache
from django_q.brokers import get_broker
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from integrations.wix.client import WixClient, reset_transport
from integrations.wix.standin.server import make_server
from tests.integrations.webhook_bodies import URL
from tests.proposals.factories import make_sent_proposal

APP_ID = "test-app-id"
APP_SECRET = "test-app-secret"


@dataclass
class Standin:
    """Drive the stand-in over its control endpoints, as a developer would with curl."""

    url: str

    def _post(self, path: str, body: dict | None = None) -> dict:
        response = httpx.post(self.url + path, json=body or {}, timeout=5)
        response.raise_for_status()
        return response.json()

    def faults(self, **faults) -> dict:
        return self._post("/__faults", faults)

    def reset(self) -> None:
        self._post("/__reset")

    def expire_tokens(self) -> None:
        self._post("/__expire_tokens")

    def seed(self, **instance) -> dict:
        return self._post("/__instances", instance)

    def counts(self) -> dict:
        return httpx.get(self.url + "/__stats", timeout=5).json()["counts"]

    def count(self, key: str) -> int:
        return self.counts().get(key, 0)

    def total(self) -> int:
        return sum(self.counts().values())

    def contacts(self, instance_id: str) -> list[dict]:
        response = httpx.get(
            self.url + "/__contacts", params={"instance_id": instance_id}, timeout=5
        )
        return response.json()["contacts"]


@pytest.fixture(scope="session")
def _standin_server():
    server = make_server(app_id=APP_ID, app_secret=APP_SECRET)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def wix(_standin_server, settings):
    """The Wix stand-in on a free loopback port, reset, with the app pointed at it."""
    settings.WIX_API_BASE_URL = _standin_server.url
    settings.WIX_APP_ID = APP_ID
    settings.WIX_APP_SECRET = APP_SECRET
    # Fast, deterministic-enough resilience settings for tests.
    settings.WIX_CONNECT_TIMEOUT = 1.0
    settings.WIX_READ_TIMEOUT = 2.0
    settings.WIX_CALL_DEADLINE = 5.0
    settings.WIX_BACKOFF_BASE = 0.01
    settings.WIX_BACKOFF_CAP = 0.05
    settings.WIX_BREAKER_COOLDOWN = 0.5
    reset_transport()
    standin = Standin(url=_standin_server.url)
    standin.reset()
    yield standin
    standin.reset()
    reset_transport()


@pytest.fixture
def wix_client(wix, business):
    return WixClient.for_business(business)


@pytest.fixture
def longest_backoff(monkeypatch):
    """Retries wait the top of their full-jitter range: a jitter near 0 would make a failed row
    due again at once, and the same drain would claim it again (as it may in production)."""
    from common import backoff

    monkeypatch.setattr(backoff, "random", SimpleNamespace(uniform=lambda low, high: high))


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def queued_tasks(prefix: str = "integrations.") -> list[dict]:
    """Queued task packages whose function lives under ``prefix`` (other apps' are left alone)."""
    broker = get_broker()
    packages = [
        SignedPackage.loads(payload)
        for payload in OrmQ.objects.filter(key=broker.list_key)
        .order_by("id")
        .values_list("payload", flat=True)
    ]
    return [task for task in packages if task["func"].startswith(prefix)]


def run_queued_tasks(limit: int = 1000, prefix: str = "integrations.", match=None) -> list:
    """Run queued tasks of ``prefix`` (and ``match(task)``), in this process and in order, as a
    worker would; tasks they queue meanwhile run too. Returns their results."""
    from django.utils.module_loading import import_string

    results = []
    broker = get_broker()
    for _ in range(limit):
        found = None
        for row in OrmQ.objects.filter(key=broker.list_key).order_by("id"):
            task = SignedPackage.loads(row.payload)
            if task["func"].startswith(prefix) and (match is None or match(task)):
                found = (row, task)
                break
        if found is None:
            break
        row, task = found
        row.delete()
        results.append(import_string(task["func"])(*task["args"], **task["kwargs"]))
    return results


DRAIN_TASK = "common.outbox.tasks.drain"
_DRAIN_COUNTS = ("claimed", "batches", "left")


def queued_drains() -> list[str]:
    """The kinds of the outbox drains on the queue, in order."""
    return [task["args"][0] for task in queued_tasks(prefix=DRAIN_TASK)]


def run_drains(kind: str, limit: int = 100) -> dict:
    """Run the queued drains of ``kind`` as a worker would (and the drains they queue); the
    outcomes their batches counted, summed, e.g. ``{"synced": 2, "retry": 1}``."""
    outcomes: dict = {}
    for totals in run_queued_tasks(
        limit, prefix=DRAIN_TASK, match=lambda task: task["args"] == (kind,)
    ):
        for outcome, n in totals.items():
            if outcome not in _DRAIN_COUNTS:
                outcomes[outcome] = outcomes.get(outcome, 0) + n
    return outcomes


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """Deliver a body as Wix would; what the view enqueues on commit is enqueued."""

    def deliver(body: str | bytes):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(URL, data=body, content_type="text/plain")

    return deliver


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """Send a proposal through the proposals service, committing as a real request would."""

    def send_for(client):
        with django_capture_on_commit_callbacks(execute=True):
            proposal, _ = make_sent_proposal(client=client)
        return proposal

    return send_for


@pytest.fixture
def accepted(wix):
    """A proposal of a business on the stand-in, accepted; its client is a contact of the site."""
    from tests.accounts.factories import BusinessFactory
    from tests.integrations.invoicing import make_contact
    from tests.proposals.factories import accept

    business = BusinessFactory()
    proposal, version = make_sent_proposal(business=business)
    acceptance = accept(version)
    make_contact(proposal.client)
    return acceptance
