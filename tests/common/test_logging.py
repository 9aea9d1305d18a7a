import io
import json
import logging
import time

import pytest
import structlog
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory
from django_q.brokers import get_broker
from django_q.models import OrmQ
from django_q.tasks import async_task

from common.logging import build_logging_config, mask_email
from common.middleware import RequestIdMiddleware


def render_with_project_config(log_format: str, emit) -> str:
    """Send events through the project's real formatter into a string."""
    config = build_logging_config(log_format=log_format, level="INFO")
    formatter = config["formatters"]["structured"]["()"](
        **{k: v for k, v in config["formatters"]["structured"].items() if k != "()"}
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    std_logger = logging.getLogger("tests.redaction")
    std_logger.addHandler(handler)
    std_logger.setLevel(logging.INFO)
    std_logger.propagate = False
    try:
        emit(structlog.get_logger("tests.redaction"))
    finally:
        std_logger.removeHandler(handler)
    return stream.getvalue()


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_secrets_nested_in_a_structure_are_masked(log_format):
    def emit(log):
        log.info(
            "wix_token_refreshed",
            response={
                "access_token": "tok-SECRET-1",
                "nested": [{"password": "hunter2-SECRET"}, {"client_secret": "cs-SECRET"}],
            },
            api_key="prk_SECRET-key",
            headers={"Authorization": "Bearer SECRET-bearer"},
            api_key_id=42,
        )

    output = render_with_project_config(log_format, emit)
    assert "wix_token_refreshed" in output
    assert "SECRET" not in output
    assert "[redacted]" in output
    assert "42" in output  # ids that merely mention a secret stay readable


def test_json_lines_are_json_and_emails_are_masked():
    output = render_with_project_config(
        "json",
        lambda log: log.info("delivery_sent", recipient="jane.doe@example.com", delivery_id=7),
    )
    event = json.loads(output.strip().splitlines()[-1])
    assert event["event"] == "delivery_sent"
    assert event["recipient"] == "j***@example.com"
    assert event["delivery_id"] == 7


def test_mask_email():
    assert mask_email("client@corp.example") == "c***@corp.example"


@pytest.mark.django_db(transaction=True)
def test_a_task_enqueued_during_a_request_logs_that_request_id_in_the_worker(log_events):
    """Enqueue inside a real request (middleware chain), then run the task as a worker does."""
    from multiprocessing import Queue, Value

    from django_q.worker import worker
    from django_structlog.middlewares import RequestMiddleware

    def view(request):
        async_task("common.tasks.queue_heartbeat", note="from-request")
        return HttpResponse("queued")

    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="origin-req-0001")
    response = RequestIdMiddleware(RequestMiddleware(view))(request)
    assert response["X-Request-ID"] == "origin-req-0001"
    # The request is over: nothing of its context is left in this thread.
    assert structlog.contextvars.get_contextvars() == {}

    broker = get_broker()
    assert OrmQ.objects.count() == 1
    ((task_id, payload),) = broker.dequeue()
    task_queue, result_queue = Queue(), Queue()
    from django_q.signing import SignedPackage

    task_queue.put(SignedPackage.loads(payload))
    task_queue.put("STOP")
    worker(task_queue, result_queue, Value("f", -1))
    ran = [e for e in log_events if e["event"] == "queue_heartbeat"]
    assert ran, log_events
    assert ran[0]["request_id"] == "origin-req-0001"
    assert ran[0]["note"] == "from-request"
    assert "task_id" in ran[0]
    # And the worker does not leak it to whatever runs next.
    assert structlog.contextvars.get_contextvars() == {}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_process_logs_the_request_id_of_its_origin(start_qcluster, settings):
    """The same as above through a real `qcluster` process on the test database."""
    cluster = start_qcluster()
    cluster.wait_for_output("Q Cluster", timeout=60)
    structlog.contextvars.bind_contextvars(request_id="origin-req-real-42")
    try:
        async_task("common.tasks.queue_heartbeat", note="real-worker")
    finally:
        structlog.contextvars.clear_contextvars()
    output = cluster.wait_for_output("queue_heartbeat", timeout=60)
    lines = [json.loads(line) for line in output.splitlines() if '"queue_heartbeat"' in line]
    assert lines[0]["request_id"] == "origin-req-real-42"
    assert connection.vendor in ("postgresql", "sqlite")
    time.sleep(0)


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_client_link_tokens_and_signed_instances_never_reach_a_log_line(log_format):
    token = "Zq3kT0kenValue-abcdefghijklmnopqrstuvwxyz12345"

    def emit(log):
        log.info("request_started", request=f"GET /p/{token}/accept")
        log.info("request_started", request="GET /app/?instance=SIG.DATA-secret&x=1")
        logging.getLogger("tests.redaction").warning("Not Found: /p/%s", token)

    output = render_with_project_config(log_format, emit)
    assert token not in output
    assert "SIG.DATA-secret" not in output
    assert "/p/[token]/accept" in output
    assert "instance=[redacted]&x=1" in output


@pytest.mark.django_db
def test_a_request_for_a_client_link_logs_no_token(client, log_events):
    client.get("/p/ThisIsASecretTokenValue1234567890abcdefghijk")
    assert "ThisIsASecretTokenValue" not in json.dumps(log_events, default=str)
    assert any("/p/[token]" in str(e.get("request")) for e in log_events)


def _fail_with_secrets_in_locals():
    app_secret = "SECRET-in-a-local"  # noqa: F841 - what a frame's locals would show
    webhook_jwt = "eyJSECRET.jwt.token"  # noqa: F841
    raise ValueError("no Wix contact for jane.doe@example.com")


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_a_traceback_shows_no_local_variables_and_masks_emails(log_format):
    def emit(log):
        try:
            _fail_with_secrets_in_locals()
        except ValueError:
            log.exception("wix_contact_sync_crashed", sync_id=7)

    output = render_with_project_config(log_format, emit)
    assert "wix_contact_sync_crashed" in output
    assert "_fail_with_secrets_in_locals" in output  # the traceback itself is there
    assert "SECRET" not in output
    assert "jane.doe@" not in output
    assert "j***@example.com" in output


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_an_email_in_a_logged_query_string_is_masked(log_format):
    def emit(log):
        log.info(
            "request_started",
            request="GET /app/clients/search?q=jane.doe%40x.com&e=ann@example.org",
        )

    output = render_with_project_config(log_format, emit)
    assert "ann@example.org" not in output
    assert "a***@example.org" in output


def test_make_runs_server_lines_hide_tokens_and_instances():
    """What ``make run`` prints (development, DEBUG): runserver's request line of a 4xx on
    ``django.server``, Django's "Not Found" on ``django.request``."""
    import subprocess
    import sys

    from tests.conftest import ROOT, subprocess_env

    emit = """if True:
        import django, logging
        django.setup()
        token, server = "ThisIsASecretTokenValue123", logging.getLogger("django.server")
        server.warning('"%s" %s %s', f"GET /p/{token} HTTP/1.1", "404", "9")
        server.warning('"%s" %s %s', "GET /app/?instance=SIG.DATA-secret HTTP/1.1", "403", "9")
        logging.getLogger("django.request").warning("Not Found: %s", f"/p/{token}")
    """
    env = subprocess_env(DJANGO_SETTINGS_MODULE="config.settings", LOG_FORMAT="console")
    env.pop("DJANGO_ENV", None)
    result = subprocess.run(
        [sys.executable, "-c", emit], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "ThisIsASecretTokenValue" not in output and "SIG.DATA-secret" not in output
    assert output.count("/p/[token]") == 2 and "instance=[redacted]" in output
