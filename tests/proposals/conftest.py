import pytest
from django.core.cache import cache

# Loopback SMTP servers and Mailgun for the delivery tests (tests/proposals/smtp.py, mailgun.py).
from tests.proposals.mailgun import fake_mailgun, mailgun_webhooks
from tests.proposals.smtp import delivery_settings, silent_smtp_server, smtp_server

__all__ = [
    "delivery_settings",
    "fake_mailgun",
    "mailgun_webhooks",
    "silent_smtp_server",
    "smtp_server",
]


@pytest.fixture(autouse=True)
def _fresh_rate_counters():
    # Each business's send rate is counted in the cache under its id. SQLite hands the ids of a
    # rolled-back test out again, so a new business would find an earlier one's counts.
    cache.clear()
    yield
    cache.clear()


# Retries wait ten minutes, so that one drain tries a failing row once (the batch tests).
@pytest.fixture
def slow_retries(settings):
    settings.DELIVERY_BACKOFF_BASE_SECONDS = 600.0
    settings.DELIVERY_BACKOFF_CAP_SECONDS = 600.0
    return settings


# Files saved through the storage API (logos, PDFs) land in the test's own folder.
@pytest.fixture
def media_in_tmp(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
