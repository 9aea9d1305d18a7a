"""A loopback SMTP server that accepts everything and logs each message (benchmarks only).

Run as its own process, so the benchmark's client loops and the server do not share a GIL:

    python -m common.smtp_sink --port 2525 --out /tmp/sink.tsv [--delay-ms 20]

Each accepted message appends one line ``<unix time>\\t<Message-ID>\\t<recipients>``: the time
its DATA was complete, flushed before the 250 is answered (so a line exists for every message a
client saw accepted). The first line of stdout is ``ready <port>`` once it listens. SIGTERM
stops it.
"""

import argparse
import asyncio
import re
import signal
import sys
import threading
import time

_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)


def message_id(content: bytes) -> str:
    headers = content.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    found = _MESSAGE_ID.search(headers)
    return found.group(1).decode(errors="replace") if found else ""


class Sink:
    def __init__(self, out, *, delay: float = 0.0) -> None:
        self.out = out
        self.delay = delay
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        # The time the whole message was here: a sender killed while waiting for the 250
        # has handed it over all the same.
        received_at = time.time()
        if self.delay:
            await asyncio.sleep(self.delay)  # a remote server's think time, per message
        line = f"{received_at:.6f}\t{message_id(envelope.content)}\t{','.join(envelope.rcpt_tos)}\n"
        with self.lock:
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
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with open(args.out, "a", buffering=1) as out:
        sink = Sink(out, delay=args.delay_ms / 1000)
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
