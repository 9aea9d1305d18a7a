"""Mailgun as the delivery tests meet it: signed tracking webhooks and a loopback send API.

The payloads are shaped as Mailgun sends them (its JSON webhooks, as in anymail's own tests),
signed as Mailgun signs them: HMAC-SHA256 of ``timestamp + token`` with the webhook signing key.
"""

import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

SIGNING_KEY = "test-mailgun-webhook-signing-key"
URL = "/email/webhooks/mailgun/tracking/"


def sign(
    payload: dict, *, key: str = SIGNING_KEY, token: str | None = None, at: float | None = None
) -> dict:
    """``payload`` with the ``signature`` block Mailgun adds: signed now (or ``at``, a Unix
    time), with a fresh token unless given."""
    timestamp = str(int(time.time() if at is None else at))
    token = token or secrets.token_hex(25)
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {
        **payload,
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
    }


def _headers(message_id: str, recipient: str) -> dict:
    # Mailgun writes the Message-ID header without its angle brackets.
    return {
        "to": recipient,
        "message-id": message_id.strip("<>"),
        "from": "Proposals <proposals@mg.example.test>",
        "subject": "Proposal P-0001",
    }


def delivered(message_id: str, recipient: str) -> dict:
    return {
        "event-data": {
            "event": "delivered",
            "timestamp": 1534108637.153125,
            "id": "hTWCTD81RtiDN-delivered",
            "recipient": recipient,
            "recipient-domain": recipient.rpartition("@")[2],
            "tags": [],
            "user-variables": {},
            "log-level": "info",
            "envelope": {"transport": "smtp", "targets": recipient},
            "message": {"headers": _headers(message_id, recipient), "size": 809},
            "delivery-status": {
                "tls": True,
                "mx-host": "smtp-in.example.com",
                "attempt-no": 1,
                "description": "",
                "code": 250,
                "message": "OK",
            },
        }
    }


def bounced(message_id: str, recipient: str, *, severity: str = "permanent") -> dict:
    """A ``failed`` event: ``permanent`` is a hard bounce, ``temporary`` a deferral."""
    return {
        "event-data": {
            "event": "failed",
            "severity": severity,
            "reason": "bounce" if severity == "permanent" else "generic",
            "recipient": recipient,
            "timestamp": 1534110422.389832,
            "log-level": "error",
            "message": {"headers": _headers(message_id, recipient)},
            "delivery-status": {
                "tls": True,
                "mx-host": "aspmx.l.example.org",
                "attempt-no": 1,
                "description": "",
                "code": 550 if severity == "permanent" else 450,
                "message": (
                    "5.1.1 The email account that you tried to reach does not exist. Please try\n"
                    "5.1.1 double-checking the recipient's email address for typos"
                    if severity == "permanent"
                    else "Recipient address rejected: Greylisted"
                ),
            },
        }
    }


def complained(message_id: str, recipient: str) -> dict:
    return {
        "event-data": {
            "event": "complained",
            "recipient": recipient,
            "timestamp": 1534111899.659519,
            "log-level": "warn",
            "message": {"headers": _headers(message_id, recipient)},
        }
    }


def post(client, payload, **extra):
    body = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    return client.post(URL, data=body, content_type="application/json", **extra)


@pytest.fixture
def mailgun_webhooks(settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    return settings


# --- a loopback Mailgun send API -------------------------------------------------------------


@dataclass
class FakeMailgun:
    """Answers ``POST /v3/<domain>/messages`` as Mailgun does; ``script`` sets the next answers."""

    script: list[tuple[int, dict]] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    sent: int = 0

    def answer(self, path: str, headers, body: bytes) -> tuple[int, dict]:
        self.requests.append({"path": path, "headers": dict(headers), "body": body})
        if self.script:
            return self.script.pop(0)
        self.sent += 1
        return 200, {
            "id": f"<20260101000000.{self.sent}.ABCDEF{self.sent:04d}@mg.example.test>",
            "message": "Queued. Thank you.",
        }


@pytest.fixture
def fake_mailgun(delivery_settings):
    api = FakeMailgun()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            status, body = api.answer(self.path, self.headers, self.rfile.read(length))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    delivery_settings.EMAIL_BACKEND = "anymail.backends.mailgun.EmailBackend"
    delivery_settings.ANYMAIL = {
        **delivery_settings.ANYMAIL,
        "MAILGUN_API_KEY": "test-api-key",
        "MAILGUN_SENDER_DOMAIN": "mg.example.test",
        "MAILGUN_API_URL": f"http://127.0.0.1:{server.server_address[1]}/v3",
        "REQUESTS_TIMEOUT": (1.0, 1.0),
    }
    yield api
    server.shutdown()
    server.server_close()
