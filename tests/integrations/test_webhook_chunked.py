"""A webhook without Content-Length (Transfer-Encoding: chunked) is read, bounded."""

import http.client
import io
import socket
import sys
import time

import pytest

from integrations.models import WebhookReceipt
from integrations.wix.standin.webhooks import sign_webhook, webhook_claims
from tests.conftest import RunningProcess, subprocess_env

URL = "/integrations/wix/webhooks/"


def signed() -> bytes:
    claims = webhook_claims(event_type="AppInstalled", instance_id="chunked-instance-0001")
    return sign_webhook(claims).encode()


def post_without_length(client, body: bytes):
    """As gunicorn hands a chunked request over: no CONTENT_LENGTH, a decoded stream that
    ends with the body, and ``wsgi.input_terminated`` saying so."""
    return client.generic(
        "POST",
        URL,
        content_type="text/plain",
        **{"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True},
    )


@pytest.mark.django_db
def test_a_chunked_body_is_read_and_accepted(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_without_length(client, signed())

    assert response.status_code == 200, response.content
    receipt = WebhookReceipt.objects.get(pk=response.json()["receipt_id"])
    assert receipt.verified
    assert receipt.body_size == len(signed())


@pytest.mark.django_db
def test_a_chunked_body_over_the_limit_is_413_and_read_no_further(client, settings):
    settings.WIX_WEBHOOK_MAX_BYTES = 2048

    class Endless(io.RawIOBase):
        """A body that never ends: only a bounded read can answer it."""

        served = 0

        def read(self, size=-1):
            size = 4096 if size is None or size < 0 else size
            self.served += size
            return b"a" * size

    stream = Endless()
    response = client.generic(
        "POST",
        URL,
        content_type="text/plain",
        **{"wsgi.input": stream, "wsgi.input_terminated": True},
    )

    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"
    assert stream.served == 2049
    receipt = WebhookReceipt.objects.get()
    assert receipt.rejected_reason == "body_too_large"
    assert receipt.raw_excerpt == ""


@pytest.mark.django_db
def test_without_length_and_a_server_that_cannot_end_the_stream_nothing_is_read(client):
    # runserver/wsgiref give the raw socket: reading it to its end would hang the worker.
    stream = io.BytesIO(signed())
    response = client.generic("POST", URL, content_type="text/plain", **{"wsgi.input": stream})

    assert response.status_code == 400
    assert stream.tell() == 0


# --- through a real gunicorn -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn(tmp_path):
    port = _free_port()
    process = RunningProcess(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--timeout",
            "30",
        ],  # fmt: skip
        subprocess_env(WIX_WEBHOOK_MAX_BYTES="4096"),
        tmp_path / "gunicorn.log",
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline or process.proc.poll() is not None:
                    raise AssertionError(process.output()[-4000:]) from None
                time.sleep(0.3)
        yield port
    finally:
        process.stop()


def _post_chunked(port: int, chunks) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.putrequest("POST", URL)
    connection.putheader("Content-Type", "text/plain")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    for chunk in chunks:
        connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    connection.send(b"0\r\n\r\n")
    response = connection.getresponse()
    return response.status, response.read()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_gunicorn_chunked_webhooks_are_read_and_bounded(gunicorn):
    body = signed()
    status, content = _post_chunked(gunicorn, [body[i : i + 100] for i in range(0, len(body), 100)])
    assert status == 200, content
    accepted = WebhookReceipt.objects.get(verified=True)
    assert accepted.body_size == len(body)

    status, content = _post_chunked(gunicorn, [b"a" * 1000] * 10)
    assert status == 413, content
    refused = WebhookReceipt.objects.get(rejected_reason="body_too_large")
    assert refused.body_size == 4097
