"""A local stand-in for Wix's REST API, for development and tests (never for production).

Standard library only (``ThreadingHTTPServer``), so it runs in a thread of the test process or
as ``manage.py wix_standin --port 8765``. It knows nothing of the app's database.

API (as documented by Wix, reduced to what the app uses):
    POST /oauth2/token                       client credentials → access token (4 h)
    GET  /apps/v1/instance                   app instance + site
    GET  /site-properties/v4/properties      site properties
    POST /contacts/v4/contacts               create (409 DUPLICATE_CONTACT_EXISTS on same email)
    POST /contacts/v4/contacts/query         filter by ``info.emails.email``
Control (for tests and demos):
    GET  /__stats                            requests counted per "METHOD /path"
    POST /__faults                           switch faults on (JSON, see ``Faults``)
    POST /__reset                            faults off, counters, tokens and contacts cleared
    POST /__expire_tokens                    every issued token now answers 401
    POST /__instances                        seed instance data ({"instance_id": …, …})
    GET  /__contacts?instance_id=…           contacts held for an instance

What it holds, and the faults it can switch on, are in ``state.py``.
"""

import json
import math
import random
import secrets
import socket
import threading
import time
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from integrations.wix.standin import business
from integrations.wix.standin.state import Faults, StandinState, _matches


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are written separately: without this, Nagle + delayed ACK add 40 ms.
    disable_nagle_algorithm = True
    server: "StandinServer"

    def log_message(self, format: str, *args) -> None:  # quiet by default
        if self.server.verbose:
            super().log_message(format, *args)

    # -- plumbing ---------------------------------------------------------------------------
    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return {}

    def _send(self, status: int, payload: dict | None = None, headers: dict | None = None) -> None:
        raw = json.dumps(payload if payload is not None else {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for key, value in (headers or {}).items():
            self.send_header(key, str(value))
        self.end_headers()
        self.wfile.write(raw)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        path = url.path
        body = self._body() if method == "POST" else {}
        if path.startswith("/__"):
            return self._control(method, path, body, parse_qs(url.query))
        routes = {
            ("POST", "/oauth2/token"): self._token,
            ("GET", "/apps/v1/instance"): self._app_instance,
            ("GET", "/site-properties/v4/properties"): self._site_properties,
            ("POST", "/contacts/v4/contacts"): self._create_contact,
            ("POST", "/contacts/v4/contacts/query"): self._query_contacts,
        }
        handler = routes.get((method, path)) or business.route(self, method, path)
        with state.lock:
            state.counts[f"{method} {path}"] += 1
            faults = state.faults
            applies = not faults.paths or any(_matches(path, p) for p in faults.paths)
        if handler is None:
            return self._send(404, {"message": "not found"})
        if applies and self._inject_before(faults):
            return
        # Work first, then perhaps lose the answer: the caller must cope with "did it happen?".
        status, payload, headers = handler(body)
        with state.lock:
            lose_answer = applies and faults.drop_after_next > 0
            if lose_answer:
                faults.drop_after_next -= 1
        if lose_answer:
            return self._drop()
        if applies and faults.error_after_processing and self._roll_error(faults):
            return self._send(faults.error_status, {"message": "injected failure after work"})
        self._send(status, payload, headers)

    def _roll_error(self, faults: Faults) -> bool:
        state = self.server.state
        with state.lock:
            if faults.error_burst > 0:
                faults.error_burst -= 1
                return True
        return faults.error_rate > 0 and random.random() < faults.error_rate

    def _inject_before(self, faults: Faults) -> bool:
        """Apply the switched-on faults; True when the request was answered (or dropped)."""
        state = self.server.state
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        if faults.outage:
            self._send(503, {"message": "injected outage"})
            return True
        if faults.hang:
            deadline = time.monotonic() + faults.hang_seconds
            while time.monotonic() < deadline and state.faults.hang:
                if state.released.wait(0.05):
                    break
            self._drop()
            return True
        with state.lock:
            drop = faults.drop_next > 0
            if drop:
                faults.drop_next -= 1
            storm = faults.storm_429 > 0
            if storm:
                faults.storm_429 -= 1
        if drop or (faults.drop_rate and random.random() < faults.drop_rate):
            self._drop()
            return True
        if storm:
            self._send(429, {"message": "injected rate limit"}, {"Retry-After": faults.retry_after})
            return True
        if not faults.error_after_processing and self._roll_error(faults):
            self._send(faults.error_status, {"message": "injected failure"})
            return True
        return False

    def _control(self, method: str, path: str, body: dict, query: dict) -> None:
        state = self.server.state
        if path == "/__stats":
            with state.lock:
                counts = dict(state.counts)
            return self._send(200, {"counts": counts, "total": sum(counts.values())})
        if path == "/__faults" and method == "POST":
            with state.lock:
                known = {k: v for k, v in body.items() if k in Faults.__dataclass_fields__}
                state.faults = Faults(**known)
            if not state.faults.hang:
                state.released.set()
                state.released = threading.Event()
            return self._send(200, asdict(state.faults))
        if path == "/__faults":
            return self._send(200, asdict(state.faults))
        if path == "/__reset" and method == "POST":
            state.released.set()
            state.reset()
            state.released = threading.Event()
            return self._send(200, {"status": "reset"})
        if path == "/__expire_tokens" and method == "POST":
            with state.lock:
                state.tokens = {t: (i, 0.0) for t, (i, _) in state.tokens.items()}
            return self._send(200, {"status": "expired"})
        if path == "/__instances" and method == "POST":
            with state.lock:
                data = state.instance(body["instance_id"])
                data.update(body)
            return self._send(200, data)
        if path == "/__contacts":
            instance_id = (query.get("instance_id") or [""])[0]
            with state.lock:
                contacts = list(state.contacts[instance_id].values())
            return self._send(200, {"contacts": contacts})
        return business.control(self, method, path, body, query)

    # -- Wix API ----------------------------------------------------------------------------
    def _authorized_instance(self) -> str | None:
        state = self.server.state
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        with state.lock:
            found = state.tokens.get(token)
        if not found or found[1] < time.time():
            return None
        return found[0]

    def _rate_limited(self, instance_id: str) -> dict | None:
        state = self.server.state
        now = time.monotonic()
        with state.lock:
            hits = state.hits[instance_id]
            while hits and hits[0] <= now - 60:
                hits.popleft()
            if len(hits) >= state.faults.rate_limit_per_minute:
                return {"Retry-After": max(1, math.ceil(hits[0] + 60 - now))}
            hits.append(now)
        return None

    def _api(self, body: dict, work) -> tuple[int, dict, dict]:
        instance_id = self._authorized_instance()
        if instance_id is None:
            return 401, {"message": "invalid or expired access token"}, {}
        limited = self._rate_limited(instance_id)
        if limited:
            return 429, {"message": "rate limit exceeded"}, limited
        return work(instance_id, body)

    def _token(self, body: dict) -> tuple[int, dict, dict]:
        state = self.server.state
        if body.get("grant_type") != "client_credentials":
            return 400, {"message": "unsupported grant_type"}, {}
        if body.get("client_id") != state.app_id or body.get("client_secret") != state.app_secret:
            return 401, {"message": "invalid client credentials"}, {}
        instance_id = body.get("instance_id") or ""
        if not instance_id:
            return 400, {"message": "instance_id is required"}, {}
        token = "standin-" + secrets.token_urlsafe(24)
        with state.lock:
            ttl = state.faults.token_ttl
            state.tokens[token] = (instance_id, time.time() + ttl)
            state.instance(instance_id)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": ttl}, {}

    def _app_instance(self, body: dict) -> tuple[int, dict, dict]:
        def work(instance_id: str, _body: dict) -> tuple[int, dict, dict]:
            with self.server.state.lock:
                d = dict(self.server.state.instance(instance_id))
            return (
                200,
                {
                    "instance": {
                        "instanceId": instance_id,
                        "appName": "Proposals",
                        "isFree": d["is_free"],
                        "billing": None
                        if d["is_free"]
                        else {"packageName": d["vendor_product_id"], "billingCycle": "MONTHLY"},
                    },
                    "site": {
                        "siteDisplayName": d["site_name"],
                        "url": d["site_url"],
                        "locale": d["locale"],
                        "paymentCurrency": d["currency"],
                        "ownerEmail": d["owner_email"],
                        "ownerInfo": {"email": d["owner_email"], "emailStatus": "VERIFIED_OPT_IN"},
                    },
                },
                {},
            )

        return self._api(body, work)

    def _site_properties(self, body: dict) -> tuple[int, dict, dict]:
        def work(instance_id: str, _body: dict) -> tuple[int, dict, dict]:
            with self.server.state.lock:
                d = dict(self.server.state.instance(instance_id))
            return (
                200,
                {
                    "properties": {
                        "siteDisplayName": d["site_name"],
                        "businessName": d["site_name"],
                        "email": d["contact_email"],
                        "locale": {"languageCode": d["locale"], "country": d["country"]},
                        "paymentCurrency": d["currency"],
                        "timeZone": d["timezone"],
                    }
                },
                {},
            )

        return self._api(body, work)

    def _create_contact(self, body: dict) -> tuple[int, dict, dict]:
        def work(instance_id: str, payload: dict) -> tuple[int, dict, dict]:
            info = payload.get("info") or {}
            emails = [
                e.get("email", "").lower() for e in (info.get("emails") or {}).get("items", [])
            ]
            state = self.server.state
            with state.lock:
                contacts = state.contacts[instance_id]
                for contact in contacts.values():
                    if emails and contact["primaryInfo"]["email"] in emails:
                        return 409, _duplicate_contact(contact), {}
                now = datetime.now(UTC).isoformat()
                contact = {
                    "id": str(uuid.uuid4()),
                    "revision": 1,
                    "info": info,
                    "primaryInfo": {"email": emails[0] if emails else ""},
                    "createdDate": now,
                }
                contacts[contact["id"]] = contact
            return 200, {"contact": contact}, {}

        return self._api(body, work)

    def _query_contacts(self, body: dict) -> tuple[int, dict, dict]:
        def work(instance_id: str, payload: dict) -> tuple[int, dict, dict]:
            wanted = ((payload.get("query") or {}).get("filter") or {}).get("info.emails.email")
            if isinstance(wanted, dict):
                wanted = wanted.get("$eq")
            with self.server.state.lock:
                contacts = list(self.server.state.contacts[instance_id].values())
            if wanted:
                contacts = [c for c in contacts if c["primaryInfo"]["email"] == wanted.lower()]
            return (
                200,
                {
                    "contacts": contacts,
                    "pagingMetadata": {"count": len(contacts), "offset": 0, "total": len(contacts)},
                },
                {},
            )

        return self._api(body, work)


def _duplicate_contact(contact: dict) -> dict:
    """Wix's answer to a create whose email a contact already has (HTTP 409)."""
    return {
        "message": "Contact with this email already exists",
        "details": {
            "applicationError": {
                "code": "DUPLICATE_CONTACT_EXISTS",
                "description": "Duplicate contact",
                "data": {
                    "duplicateContactId": contact["id"],
                    "duplicateEmail": contact["primaryInfo"]["email"],
                },
            }
        },
    }


class StandinServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: StandinState, verbose: bool = False):
        super().__init__(address, Handler)
        self.state = state
        self.verbose = verbose

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        assert isinstance(host, str)  # an IPv4 socket's address (only Unix sockets have bytes)
        return f"http://{host}:{port}"

    def shutdown(self) -> None:
        self.state.released.set()
        super().shutdown()


def make_server(
    *, host: str = "127.0.0.1", port: int = 0, app_id: str, app_secret: str, verbose: bool = False
) -> StandinServer:
    return StandinServer(
        (host, port), StandinState(app_id=app_id, app_secret=app_secret), verbose=verbose
    )
