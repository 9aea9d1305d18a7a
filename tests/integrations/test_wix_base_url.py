"""WIX_API_BASE_URL: Wix's API by default in production; `check --deploy` refuses a loopback."""

import os
import secrets
import subprocess
import sys

import pytest

from integrations.checks import is_loopback_url
from tests.common.test_settings_env import PRODUCTION, ROOT, load_settings


def deploy_check(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION and k != "DEBUG"}
    for name in ("WIX_API_BASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"):  # the latter: other tests
        clean.pop(name, None)
    env = {"SECRET_KEY": secrets.token_urlsafe(64), **env}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
        cwd=ROOT,
        env={**clean, **PRODUCTION, **env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_defaults_to_wix_and_development_to_the_standin():
    show = "from django.conf import settings; print('url=' + settings.WIX_API_BASE_URL)"
    production = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {show}"],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if k not in ("WIX_API_BASE_URL", "DEBUG")},
            **PRODUCTION,
            "DJANGO_SETTINGS_MODULE": "config.settings",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert production.returncode == 0, production.stderr
    assert "url=https://www.wixapis.com\n" in production.stdout
    assert load_settings({"DJANGO_ENV": "development"}).returncode == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8765",
        "http://localhost:8765/",
        "https://LOCALHOST.",
        "http://wix.localhost",
        "http://127.1.2.3",
        "http://[::1]:8765",
        "http://[::ffff:127.0.0.1]",
        "http://0.0.0.0:8765",
        # Short IPv4 spellings the resolver turns into 127.0.0.1 / 0.0.0.0.
        "http://127.1:8765",
        "http://2130706433",
        "http://0x7f.0.0.1",
        "http://0",
    ],
)
def test_a_loopback_url_is_recognised(url):
    assert is_loopback_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://www.wixapis.com",
        "https://10.0.0.8",
        "http://wix-proxy.internal:8080",
        "http://10.1",
        "https://127.example.com",
    ],
)
def test_another_host_is_not_loopback(url):
    assert not is_loopback_url(url)


@pytest.mark.slow
def test_the_deploy_check_refuses_a_loopback_url_and_passes_the_default():
    refused = deploy_check(WIX_API_BASE_URL="http://127.0.0.1:8765")
    assert refused.returncode != 0
    assert "integrations.E001" in refused.stderr
    assert "WIX_API_BASE_URL" in refused.stderr

    not_http = deploy_check(WIX_API_BASE_URL="ftp://www.wixapis.com")
    assert "integrations.E001" in not_http.stderr

    no_host = deploy_check(WIX_API_BASE_URL="https://")
    assert "integrations.E001" in no_host.stderr

    short_loopback = deploy_check(WIX_API_BASE_URL="http://127.1:8765")
    assert "integrations.E001" in short_loopback.stderr

    default = deploy_check()
    assert default.returncode == 0, default.stderr
    assert "integrations.E001" not in default.stderr + default.stdout
