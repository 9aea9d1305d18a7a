"""The mail service's side of "accepted, then bounced": signed Mailgun tracking webhooks.

The SMTP server accepts every message; for a share of the addresses (chosen by a hash, as the
``550`` fault chooses them) this plays the service that later learns the mailbox does not
exist, and posts a hard bounce (a ``failed`` event, ``severity: permanent``) for each accepted
message to the product's tracking webhook, signed as Mailgun signs them (HMAC-SHA256 of
timestamp + token with the webhook signing key). The product finds the delivery by its
Message-ID (over SMTP the id a service's events name it by).
"""

import hashlib
import hmac
import secrets
import threading
import time
import uuid
from pathlib import Path

from common.smtp_sink import Behaviour, parse_log

URL = "/email/webhooks/mailgun/tracking/"


def signed_bounce(*, message_id: str, recipient: str, key: str) -> dict:
    timestamp = str(int(time.time()))
    token = secrets.token_hex(25)
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": {
            "event": "failed",
            "severity": "permanent",
            "reason": "bounce",
            "id": f"chaos-{uuid.uuid4().hex}",
            "timestamp": time.time(),
            "recipient": recipient,
            "log-level": "error",
            # Mailgun writes the Message-ID header without its angle brackets.
            "message": {"headers": {"message-id": message_id.strip("<>"), "to": recipient}},
            "delivery-status": {
                "code": 550,
                "message": "5.1.1 The email account that you tried to reach does not exist",
                "description": "",
                "attempt-no": 1,
            },
        },
    }


class Bouncer:
    """Tails the SMTP server's log; posts a bounce for each chosen address's messages."""

    def __init__(self, *, load, accepted_log: Path, key: str, rate: float) -> None:
        self.load = load
        self.accepted_log = accepted_log
        self.key = key
        self.chooser = Behaviour(mode="550", rate=rate)
        self.offset = accepted_log.stat().st_size if accepted_log.exists() else 0
        self.stop_event = threading.Event()
        self.posted = 0
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=10)
        self._read()  # what was accepted up to now is still reported

    def _loop(self) -> None:
        while not self.stop_event.wait(0.5):
            self._read()

    def _read(self) -> None:
        with open(self.accepted_log, "rb") as log_file:
            log_file.seek(self.offset)
            data = log_file.read()
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        for _, message_id, recipients in parse_log(complete.decode().splitlines(keepends=True)):
            for recipient in recipients.split(","):
                if recipient.endswith("@chaos.example.com") and self.chooser.refuses_address(
                    recipient
                ):
                    payload = signed_bounce(
                        message_id=message_id, recipient=recipient, key=self.key
                    )
                    self.load.submit_request("webhook: bounce", "POST", URL, json=payload)
                    self.posted += 1
