"""Real SMTP servers on loopback for delivery tests: scriptable answers, stalls, a silent one."""

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def text(self) -> str:
        return self.data.decode(errors="replace")


@dataclass
class ScriptedHandler:
    """Answers DATA (or RCPT) from a script, then 250. ``"stall"`` holds the reply until released;
    ``"drop"`` closes the connection instead of answering. ``rcpt_answers`` answers one address
    the same way every time (a poison recipient).

    Only messages answered with 250 count as received, as a real server would keep them.
    ``sessions`` counts the connections that said EHLO.
    """

    data_script: list[str] = field(default_factory=list)
    rcpt_script: list[str] = field(default_factory=list)
    rcpt_answers: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    data_commands: int = 0
    stalled: int = 0
    sessions: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.release = threading.Event()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self._lock:
            self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self._lock:
            answer = self.rcpt_script.pop(0) if self.rcpt_script else None
            answer = self.rcpt_answers.get(address, answer)
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self.data_commands += 1
            answer = self.data_script.pop(0) if self.data_script else "250 Message accepted"
        if answer == "drop":
            server.transport.close()
            return "421 Dropped on purpose"
        if answer.startswith("stall"):
            with self._lock:
                self.stalled += 1
            seconds = float(answer.partition(":")[2] or 120)
            deadline = time.monotonic() + seconds
            while not self.release.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if not self.release.is_set():
                return "451 Stalled on purpose"
            answer = "250 Message accepted"
        if answer.startswith("250"):
            with self._lock:
                self.received.append(
                    Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
                )
        return answer

    def to(self, address: str) -> list[Received]:
        return [message for message in self.received if address in message.recipients]


class SMTPServer:
    def __init__(self, handler: ScriptedHandler | None = None) -> None:
        self.handler = handler or ScriptedHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> "SMTPServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.handler.release.set()
        self.controller.stop()


class SilentServer:
    """Accepts TCP connections and never says a word (not even the SMTP greeting)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections.append(conn)

    def start(self) -> "SilentServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=2)
        for conn in self.connections:
            conn.close()
        self.sock.close()


# --- fixtures (import them into a test module to use them) -----------------------------------
import pytest  # noqa: E402


def point_email_at(settings, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""


@pytest.fixture
def delivery_settings(settings):
    """Small numbers so that every failure case runs in well under a second or two."""
    settings.EMAIL_TIMEOUT = 1.0
    settings.DELIVERY_SEND_DEADLINE_SECONDS = 3.0
    settings.DELIVERY_LEASE_SECONDS = 30
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 0.0
    settings.DELIVERY_BACKOFF_CAP_SECONDS = 0.0
    settings.DELIVERY_MAX_ATTEMPTS = 5
    settings.DELIVERY_RATE_LIMIT = 0
    settings.SITE_URL = "https://proposals.example.test"
    return settings


@pytest.fixture
def smtp_server(delivery_settings):
    server = SMTPServer().start()
    point_email_at(delivery_settings, server.port)
    yield server.handler
    server.stop()


@pytest.fixture
def silent_smtp_server(delivery_settings):
    server = SilentServer().start()
    point_email_at(delivery_settings, server.port)
    yield server
    server.stop()
