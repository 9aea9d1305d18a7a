"""Settings come from the environment; production refuses to start without its secrets."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# A real RSA public key in PEM (the stand-in's; what it is does not matter to these tests).
PUBLIC_KEY = (ROOT / "integrations/wix/standin/keys/DEV_ONLY_webhook_public.pem").read_text()

PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "x" * 64,
    "ALLOWED_HOSTS": "proposals.example.com",
    "SITE_URL": "https://proposals.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/proposals",
    "CACHE_URL": "redis://127.0.0.1:6379/0",
    "EMAIL_HOST": "smtp.example.com",
    "WIX_APP_ID": "app",
    "WIX_APP_SECRET": "secret",
    "WIX_WEBHOOK_PUBLIC_KEY": PUBLIC_KEY,
}


STARTED = "import django; django.setup(); print('started')"


def load_settings(env: dict, code: str = STARTED) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION and k != "DEBUG"}
    clean.pop("DJANGO_SETTINGS_MODULE", None)
    clean.pop("MEDIA_ROOT", None)
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_starts_with_all_its_settings():
    result = load_settings(PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CACHE_URL", "WIX_APP_SECRET"]
)
def test_production_refuses_to_start_without_a_secret_and_names_it(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = load_settings(env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "maybe"),
        ("EMAIL_PORT", "twenty-five"),
        ("LOG_FORMAT", "xml"),
        ("DJANGO_ENV", "staging"),
        ("DATABASE_URL", "nosuchdb://x"),
        ("EMAIL_TIMEOUT", "-1"),
        ("SECRET_KEY", "short"),
        ("WIX_WEBHOOK_PUBLIC_KEY", "ci-public-key"),
        ("WIX_WEBHOOK_PUBLIC_KEY", PUBLIC_KEY.replace("PUBLIC KEY", "CERTIFICATE")),
        ("WIX_WEBHOOK_PUBLIC_KEY", PUBLIC_KEY[:120]),
    ],
)
def test_malformed_values_are_errors_naming_the_variable(name, value):
    result = load_settings({**PRODUCTION, name: value})
    assert result.returncode != 0
    assert name in result.stderr


def test_debug_cannot_be_on_in_production():
    result = load_settings({**PRODUCTION, "DEBUG": "true"})
    assert result.returncode != 0
    assert "DEBUG" in result.stderr


def test_development_needs_nothing():
    result = load_settings({"DJANGO_ENV": "development"})
    assert result.returncode == 0, result.stderr


def test_a_public_key_with_escaped_newlines_is_accepted():
    """A one-line environment (a platform's text box) carries the PEM's newlines as \\n."""
    result = load_settings(
        {**PRODUCTION, "WIX_WEBHOOK_PUBLIC_KEY": PUBLIC_KEY.replace("\n", "\\n")}
    )
    assert result.returncode == 0, result.stderr


STORAGE_LOCATION = (
    "import django; django.setup(); "
    "from django.core.files.storage import default_storage; print(default_storage.location)"
)


def test_stored_files_stay_out_of_the_code_by_default():
    """Logos and PDFs go to the git-ignored ``var/media``, not the checkout's top folder."""
    result = load_settings({"DJANGO_ENV": "development"}, code=STORAGE_LOCATION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(ROOT / "var" / "media")


def test_stored_files_go_where_media_root_says():
    result = load_settings({**PRODUCTION, "MEDIA_ROOT": "/srv/media"}, code=STORAGE_LOCATION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "/srv/media"


def test_the_suite_stores_files_outside_the_checkout():
    """A test that saves a logo or a PDF without its own folder leaves nothing in the code."""
    from django.core.files.storage import default_storage

    assert not Path(default_storage.location).resolve().is_relative_to(ROOT)
