import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.accounts.factories import BusinessFactory, MembershipFactory

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def business(db):
    return BusinessFactory()


@pytest.fixture
def owner(business):
    return MembershipFactory(business=business).user


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def other_business(db):
    return BusinessFactory()


def database_url_for_subprocess() -> str:
    """A DATABASE_URL for child processes that points at the test database of this run."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] or "postgres"
    if s.get("PASSWORD"):
        auth += f":{s['PASSWORD']}"
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def subprocess_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.test_settings",
        DATABASE_URL=database_url_for_subprocess(),
        LOG_FORMAT="json",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class RunningProcess:
    def __init__(self, args: list[str], env: dict, log_path: Path) -> None:
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_for_output(self, needle: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.output()
            if needle in text:
                return text
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"{needle!r} not seen in process output:\n{self.output()[-4000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 15)
                self.proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, 9)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=5)
        self._log.close()


@pytest.fixture
def start_qcluster(tmp_path) -> Iterator[Callable[..., RunningProcess]]:
    """Start real `manage.py qcluster` processes against the test database."""
    started: list[RunningProcess] = []

    def start(**env: str) -> RunningProcess:
        log_path = tmp_path / f"qcluster-{len(started)}.log"
        process = RunningProcess(
            [sys.executable, "manage.py", "qcluster"], subprocess_env(**env), log_path
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def pytest_collection_modifyitems(config, items):
    # Browser tests need Debian's Chromium; say so loudly rather than fail obscurely.
    if not Path("/usr/bin/chromium").exists() and not os.environ.get("CI"):
        skip = pytest.mark.skip(
            reason="/usr/bin/chromium is not installed (apt-get install chromium)"
        )
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(skip)


assert settings.DJANGO_ENV == "test"


@pytest.fixture
def log_events():
    """Structured events as the app emits them: with context and redaction, before rendering."""
    import structlog

    from common.logging import redact

    capture = structlog.testing.LogCapture()
    previous = structlog.get_config()
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, redact, capture],
        cache_logger_on_first_use=False,
    )
    try:
        yield capture.entries
    finally:
        structlog.configure(**previous)


@pytest.fixture(autouse=True)
def _forget_queued_outbox_drains():
    """The outbox coalesces drain requests with a cache flag; a test's rolled-back queue row
    must not leave the next test's request coalesced into nothing."""
    yield
    from common.outbox.drain import forget_queued_drains

    forget_queued_drains()


@pytest.fixture(autouse=True)
def _forget_noted_wix_calls():
    """The Wix retry budget notes first attempts in the process until it adds them to the
    shared counters, and the token store notes instances just created: one test's notes must
    not land in the next test."""
    yield
    from integrations.wix import retry_budget, tokens

    retry_budget._notes.clear()
    tokens._new_instances.clear()
