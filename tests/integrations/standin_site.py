"""A Wix site at the stand-in, called over HTTP as the product's Wix client calls Wix: an access
token per instance, explicit timeouts, JSON in and out."""

import uuid
from dataclasses import dataclass, field

import httpx

from tests.integrations.conftest import APP_ID, APP_SECRET, Standin

TIMEOUT = httpx.Timeout(2.0, connect=1.0)


def fresh_standin(server):
    """The session's stand-in, reset; unlike the ``wix`` fixture it leaves the app's settings
    and Wix client alone (these tests are the client). For a module's ``standin`` fixture."""
    standin = Standin(url=server.url)
    standin.reset()
    yield standin
    standin.reset()


@dataclass
class Site:
    standin: Standin
    instance_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    token: str = ""

    def __post_init__(self) -> None:
        response = httpx.post(
            self.standin.url + "/oauth2/token",
            json={
                "grant_type": "client_credentials",
                "client_id": APP_ID,
                "client_secret": APP_SECRET,
                "instance_id": self.instance_id,
            },
            timeout=TIMEOUT,
        )
        response.raise_for_status()
        self.token = response.json()["access_token"]

    def call(self, method: str, path: str, body: dict | None = None, *, timeout=TIMEOUT):
        return httpx.request(
            method,
            self.standin.url + path,
            json=body if method != "GET" else None,
            headers={"Authorization": self.token},
            timeout=timeout,
        )

    def post(self, path: str, body: dict | None = None, **kwargs) -> httpx.Response:
        return self.call("POST", path, body or {}, **kwargs)

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.call("GET", path, **kwargs)

    def seed(self, **details) -> dict:
        return self.standin.seed(instance_id=self.instance_id, **details)

    def contact(self, email: str = "client@example.com") -> str:
        response = self.post(
            "/contacts/v4/contacts", {"info": {"emails": {"items": [{"email": email}]}}}
        )
        response.raise_for_status()
        return response.json()["contact"]["id"]

    # -- control endpoints (what Wix holds, and a customer paying) -----------------------------
    def _control(self) -> dict:
        response = httpx.get(
            self.standin.url + "/__invoices", params={"instance_id": self.instance_id}, timeout=5
        )
        response.raise_for_status()
        return response.json()

    def stored_invoices(self) -> list[dict]:
        return self._control()["invoices"]

    def sends(self) -> list[dict]:
        return self._control()["sends"]

    def pay(self, invoice_id: str, amount: str) -> httpx.Response:
        return httpx.post(
            self.standin.url + "/__invoices/pay",
            json={"instance_id": self.instance_id, "invoice_id": invoice_id, "amount": amount},
            timeout=5,
        )
