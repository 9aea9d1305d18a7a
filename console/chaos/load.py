"""Clients of the product over HTTP: integrators on the REST API, clients on their page.

An integrator creates a client and a proposal and sends it (``POST`` with an
``Idempotency-Key``, retried with the same key after a 5xx or a cut connection, as the API
asks). A client opens the link of the email the SMTP server received, then accepts (typed
signature) or declines it on the page, through the form and its CSRF token. Every answer is
recorded with its time, so 5xx can be told apart inside and outside a fault's window.
"""

import hashlib
import random
import re
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from django.conf import settings

RETRIES = 6
_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken"\s+value="([^"]+)"')


@dataclass(frozen=True)
class Tenant:
    """A business the load acts for: its Wix instance, its id and a raw API key."""

    instance_id: str
    business_id: int
    api_key: str


@dataclass
class Tally:
    """Answers seen by the load: per kind of request, and when each 5xx or error happened."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    server_errors: list[tuple[float, str, int]] = field(default_factory=list)
    cut: list[tuple[float, str, str]] = field(default_factory=list)  # no answer at all
    gave_up: list[str] = field(default_factory=list)
    # Answers below 500 that are not what the request is for (a dashboard page sent to the
    # login page, a 404): not errors of the server, but the load did not do what it says.
    unexpected: list[tuple[float, str, int]] = field(default_factory=list)

    def answer(self, what: str, status: int) -> None:
        with self.lock:
            self.requests[what] += 1
            self.statuses[status // 100 * 100] += 1
            if status >= 500:
                self.server_errors.append((time.time(), what, status))

    def wrong(self, what: str, status: int) -> None:
        with self.lock:
            self.unexpected.append((time.time(), what, status))

    def no_answer(self, what: str, exc: Exception) -> None:
        with self.lock:
            self.requests[what] += 1
            self.cut.append((time.time(), what, exc.__class__.__name__))


class LoadError(RuntimeError):
    pass


class Load:
    """Paced integrators and the clients who answer the emails."""

    def __init__(self, *, base_url: str, links_log: Path, tally: Tally, threads: int = 8) -> None:
        self.base_url = base_url
        self.links_log = links_log
        self.tally = tally
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="chaos-api")
        self.clients = ThreadPoolExecutor(max_workers=4, thread_name_prefix="chaos-client")
        self.local = threading.local()
        self.lock = threading.Lock()
        self.pending = 0
        self.seen_links: set[str] = set()
        self.answered: set[str] = set()
        self.links_offset = 0
        self.stop_tail = threading.Event()
        self.tail_thread = threading.Thread(target=self._tail_links, daemon=True)
        self.tail_thread.start()

    # -- plumbing ---------------------------------------------------------------------------
    def _http(self) -> httpx.Client:
        http = getattr(self.local, "http", None)
        if http is None:
            http = httpx.Client(base_url=self.base_url, timeout=httpx.Timeout(30, connect=5))
            self.local.http = http
        return http

    def _request(self, what: str, method: str, url: str, **kwargs) -> httpx.Response:
        """One request, retried after a 5xx or no answer; 4xx are returned, never retried."""
        delay = 0.3
        for attempt in range(RETRIES):
            try:
                response = self._http().request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                self.tally.no_answer(what, exc)
            else:
                self.tally.answer(what, response.status_code)
                if response.status_code < 500:
                    return response
            if attempt < RETRIES - 1:
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 5)
        self.tally.gave_up.append(what)
        raise LoadError(f"{what}: no success after {RETRIES} tries")

    def _track(self, future) -> Future:
        with self.lock:
            self.pending += 1

        def done(_):
            with self.lock:
                self.pending -= 1

        future.add_done_callback(done)
        return future

    def busy(self) -> int:
        with self.lock:
            return self.pending

    # -- integrators ------------------------------------------------------------------------
    def submit_proposal(self, tenant: Tenant, *, tag: str, index: int) -> Future:
        """Create and send a proposal; the future's result is its id (None when it failed)."""
        return self._track(self.pool.submit(self._proposal, tenant, tag, index))

    def _proposal(self, tenant: Tenant, tag: str, index: int) -> int | None:
        auth = {"Authorization": f"Bearer {tenant.api_key}"}

        def post(what: str, url: str, body: dict) -> httpx.Response:
            # One key per operation, reused by every retry of it.
            headers = {**auth, "Idempotency-Key": f"chaos-{uuid.uuid4().hex}"}
            return self._request(what, "POST", url, json=body, headers=headers)

        try:
            client = post(
                "api: create client",
                "/api/v1/clients/",
                {"name": f"Client {tag} {index}", "email": f"{tag}-{index}@chaos.example.com"},
            )
            if client.status_code != 201:
                self.tally.gave_up.append(f"create client answered {client.status_code}")
                return None
            proposal = post(
                "api: create proposal",
                "/api/v1/proposals/",
                {
                    "client": client.json()["id"],
                    "title": f"Chaos {tag} #{index}",
                    "sections": [
                        {
                            "title": "Work",
                            "items": [
                                {"name": "Design", "unit_price": "1200.00", "quantity": "1"},
                                {"name": "Build", "unit_price": "80.00", "quantity": "12.5"},
                            ],
                        }
                    ],
                },
            )
            if proposal.status_code != 201:
                self.tally.gave_up.append(f"create proposal answered {proposal.status_code}")
                return None
            pk = proposal.json()["id"]
            sent = post("api: send", f"/api/v1/proposals/{pk}/send/", {"message": "As agreed."})
            if sent.status_code >= 300:
                self.tally.gave_up.append(f"send answered {sent.status_code}")
                return None
            return pk
        except LoadError:
            return None

    def submit_request(
        self, what: str, method: str, url: str, *, expect: int | None = None, **kwargs
    ) -> Future:
        """Any other request (a dashboard page, a webhook), retried as the others are.

        With ``expect``, a final answer with another status is counted as unexpected.
        """

        def send() -> None:
            try:
                response = self._request(what, method, url, **kwargs)
            except LoadError:
                return
            if expect is not None and response.status_code != expect:
                self.tally.wrong(what, response.status_code)

        return self._track(self.pool.submit(send))

    # -- the owner in the dashboard ---------------------------------------------------------
    def dashboard_session(self, instance: str) -> str:
        """Sign in as Wix opens the dashboard (``/app/?instance=…``); the ``Cookie`` to send.

        The product answers with a redirect that sets the session cookie. Under production
        settings it is ``Secure``: a browser sends it to http://127.0.0.1 (loopback is a secure
        context), httpx's cookie jar never does over http, so the cookie travels as a header.
        """
        response = self._request(
            "dashboard: sign in",
            "GET",
            "/app/",
            params={"instance": instance},
            follow_redirects=False,
        )
        session = response.cookies.get(settings.SESSION_COOKIE_NAME)
        if response.status_code != 302 or not session:
            self.tally.wrong("dashboard: sign in", response.status_code)
            raise LoadError(f"dashboard sign-in answered {response.status_code} without a session")
        return f"{settings.SESSION_COOKIE_NAME}={session}"

    # -- clients ----------------------------------------------------------------------------
    def _tail_links(self) -> None:
        while not self.stop_tail.is_set():
            self.read_links()
            self.stop_tail.wait(0.2)

    def read_links(self) -> None:
        try:
            with open(self.links_log, "rb") as links:
                links.seek(self.links_offset)
                data = links.read()
        except OSError:
            return
        complete = data[: data.rfind(b"\n") + 1]
        with self.lock:
            self.links_offset += len(complete)
        for line in complete.decode(errors="replace").splitlines():
            _, _, link = line.partition("\t")
            with self.lock:
                if not link or link in self.seen_links:
                    continue
                self.seen_links.add(link)
            self._track(self.clients.submit(self._answer, link))

    def _answer(self, link: str) -> None:
        path = httpx.URL(link).path
        token = path.rsplit("/", 1)[-1]
        accept = hashlib.sha256(token.encode()).digest()[0] % 2 == 0  # about half
        try:
            page = self._request("page: view", "GET", path)
            if page.status_code != 200:
                return  # a later version, withdrawn, answered already: nothing to answer
            found = _CSRF_INPUT.search(page.text)
            cookie = page.cookies.get("csrftoken") or ""
            if not found:
                return
            form = {"csrfmiddlewaretoken": found.group(1)}
            if accept:
                form.update(signed_name="Chaos Client", agreed="on")
            else:
                form.update(reason="Not this time.")
            answer = self._request(
                "page: accept" if accept else "page: decline",
                "POST",
                f"{path}/{'accept' if accept else 'decline'}",
                data=form,
                headers={"Cookie": f"csrftoken={cookie}"},
                follow_redirects=False,
            )
            if answer.status_code < 400:
                with self.lock:
                    self.answered.add(link)
        except LoadError:
            return

    def close(self) -> None:
        self.stop_tail.set()
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.clients.shutdown(wait=True, cancel_futures=True)


def paced(count: int, rate: float, action, *, stop: threading.Event | None = None) -> float:
    """Call ``action(i)`` for i in range(count) at ``rate`` per second; seconds it took."""
    started = time.monotonic()
    for index in range(count):
        due = started + index / rate
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        if stop is not None and stop.is_set():
            break
        action(index)
    return time.monotonic() - started
