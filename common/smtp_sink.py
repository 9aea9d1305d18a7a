"""A loopback SMTP server that logs each message it accepts (benchmarks and ``manage.py chaos``).

Run as its own process, so the caller's client loops and the server do not share a GIL:

    python -m common.smtp_sink --port 2525 --out /tmp/sink.tsv [--delay-ms 20]
        [--control /tmp/sink.json] [--events /tmp/events.tsv] [--links /tmp/links.tsv]

Each accepted message appends one line ``<unix time>\\t<Message-ID>\\t<recipients>``: the time
its DATA was complete, flushed before the 250 is answered (so a line exists for every message a
client saw accepted). The first line of stdout is ``ready <port>`` once it listens. SIGTERM
stops it.

Faults, switchable while it runs: ``--control`` names a JSON file, read again whenever it
changes (write it whole and rename it into place), ``{"mode": …, "rate": 0.3, "delay_ms": 0}``:

- ``accept`` (default): every message is accepted;
- ``421``: RCPT answered ``421`` (try again later) for a share ``rate`` of the commands;
- ``550``: RCPT answered ``550`` (no such mailbox) for a share ``rate`` of the *addresses*,
  chosen by a hash of the address, so a retry of the same address is refused again;
- ``hang``: after DATA, no answer for a share ``rate`` of the messages (until the mode changes
  or ``hang_seconds``, default 600), then the connection is closed;
- ``drop``: after DATA, the connection is closed without an answer for a share ``rate``.

A message that was refused, hung or dropped is never logged as accepted. Every fault applied
appends ``<unix time>\\t<fault>\\t<Message-ID or "">\\t<recipient>`` to ``--events``. With
``--links``, each accepted message also appends ``<Message-ID>\\t<link>`` for every
``/p/<token>`` link in its text (the client's proposal page, read as a client would).
"""

import argparse
import asyncio
import email
import hashlib
import json
import os
import random
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass

_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)
_LINK = re.compile(r"https?://[^\s\"'<>]+/p/[A-Za-z0-9_\-:.]+")
MODES = ("accept", "421", "550", "hang", "drop")


def message_id(content: bytes) -> str:
    headers = content.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    found = _MESSAGE_ID.search(headers)
    return found.group(1).decode(errors="replace") if found else ""


def client_links(content: bytes) -> list[str]:
    """The ``/p/<token>`` links in a message's text parts, decoded (quoted-printable, base64)."""
    links: list[str] = []
    for part in email.message_from_bytes(content).walk():
        if part.get_content_type() != "text/plain":
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):  # None only for a multipart part
            continue
        for link in _LINK.findall(payload.decode(errors="replace")):
            if link not in links:
                links.append(link)
    return links


@dataclass(frozen=True)
class Behaviour:
    """What the server does now (see the module docstring)."""

    mode: str = "accept"
    rate: float = 1.0
    delay_ms: float = 0.0
    hang_seconds: float = 600.0

    @classmethod
    def from_dict(cls, data: dict) -> "Behaviour":
        mode = str(data.get("mode", "accept"))
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r} (one of {', '.join(MODES)})")
        return cls(
            mode=mode,
            rate=min(1.0, max(0.0, float(data.get("rate", 1.0)))),
            delay_ms=max(0.0, float(data.get("delay_ms", 0.0))),
            hang_seconds=max(0.0, float(data.get("hang_seconds", 600.0))),
        )

    def refuses_address(self, address: str) -> bool:
        """For ``550``: the same address is always refused or always accepted."""
        digest = hashlib.sha256(address.lower().encode()).digest()
        return int.from_bytes(digest[:4], "big") / 2**32 < self.rate

    def rolls(self) -> bool:
        return self.rate >= 1.0 or random.random() < self.rate


def write_control(path: str, **behaviour) -> None:
    """Switch a running server (atomically: a reader never sees half a file)."""
    Behaviour.from_dict(behaviour)  # refuse a bad mode here, not in the server
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as control:
        json.dump(behaviour, control)
    os.replace(tmp, path)


class Control:
    """The ``--control`` file, read again when its modification time changes."""

    def __init__(self, path: str | None, *, delay_ms: float = 0.0) -> None:
        self.path = path
        self.default = Behaviour(delay_ms=delay_ms)
        self.current = self.default
        self.stamp: float | None = None

    def behaviour(self) -> Behaviour:
        if not self.path:
            return self.current
        try:
            stamp = os.stat(self.path).st_mtime_ns
        except OSError:
            self.current, self.stamp = self.default, None
            return self.current
        if stamp != self.stamp:
            try:
                with open(self.path) as control:
                    self.current = Behaviour.from_dict(json.load(control))
            except (OSError, ValueError) as exc:
                sys.stderr.write(f"control file ignored: {exc}\n")
            self.stamp = stamp
        return self.current


class Sink:
    def __init__(
        self,
        out,
        *,
        delay: float = 0.0,
        control: Control | None = None,
        events=None,
        links=None,
    ) -> None:
        self.out = out
        self.control = control or Control(None, delay_ms=delay * 1000)
        self.events = events
        self.links = links
        self.lock = threading.Lock()

    def _event(self, fault: str, msg_id: str, recipient: str) -> None:
        if self.events is None:
            return
        with self.lock:
            self.events.write(f"{time.time():.6f}\t{fault}\t{msg_id}\t{recipient}\n")
            self.events.flush()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        behaviour = self.control.behaviour()
        if behaviour.mode == "421" and behaviour.rolls():
            self._event("421", "", address)
            return "421 4.3.2 Service not available, try again later"
        if behaviour.mode == "550" and behaviour.refuses_address(address):
            self._event("550", "", address)
            return "550 5.1.1 Mailbox does not exist"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        # The time the whole message was here: a sender killed while waiting for the 250
        # has handed it over all the same.
        received_at = time.time()
        behaviour = self.control.behaviour()
        msg_id = message_id(envelope.content)
        recipients = ",".join(envelope.rcpt_tos)
        if behaviour.mode == "hang" and behaviour.rolls():
            self._event("hang", msg_id, recipients)
            deadline = time.monotonic() + behaviour.hang_seconds
            while time.monotonic() < deadline and self.control.behaviour().mode == "hang":
                await asyncio.sleep(0.2)
            server.transport.close()
            return "451 4.3.0 Gave up"  # written to a closed connection: nobody reads it
        if behaviour.mode == "drop" and behaviour.rolls():
            self._event("drop", msg_id, recipients)
            server.transport.abort()
            return "451 4.3.0 Dropped"
        if behaviour.delay_ms:
            await asyncio.sleep(behaviour.delay_ms / 1000)  # a remote server's think time
        line = f"{received_at:.6f}\t{msg_id}\t{recipients}\n"
        with self.lock:
            if self.links is not None:
                for link in client_links(envelope.content):
                    self.links.write(f"{msg_id}\t{link}\n")
                self.links.flush()
            self.out.write(line)
            self.out.flush()
        return "250 Message accepted"


def parse_log(lines: list[str]) -> list[tuple[float, str, str]]:
    """The log lines as (accepted at, Message-ID, recipients); a torn last line is skipped."""
    records = []
    for line in lines:
        parts = line.rstrip("\n").split("\t")
        if len(parts) == 3 and line.endswith("\n"):
            records.append((float(parts[0]), parts[1], parts[2]))
    return records


def main(argv: list[str] | None = None) -> None:
    from aiosmtpd.controller import Controller

    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="before each 250")
    parser.add_argument("--control", default=None, help="JSON file switching faults")
    parser.add_argument("--events", default=None, help="log of the faults applied")
    parser.add_argument("--links", default=None, help="log of the client links received")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with (
        open(args.out, "a", buffering=1) as out,
        open(args.events or os.devnull, "a", buffering=1) as events,
        open(args.links or os.devnull, "a", buffering=1) as links,
    ):
        sink = Sink(
            out,
            control=Control(args.control, delay_ms=args.delay_ms),
            events=events if args.events else None,
            links=links if args.links else None,
        )
        controller = Controller(sink, hostname=args.host, port=args.port)
        controller.start()
        sys.stdout.write(f"ready {args.port}\n")
        sys.stdout.flush()
        try:
            stop.wait()
        finally:
            controller.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
