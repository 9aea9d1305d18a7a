"""The development commands: the stand-in as its own process, and a signed dashboard URL."""

import socket
import sys
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.contrib.auth import SESSION_KEY
from django.core.management import call_command

from accounts.models import Business
from tests.conftest import RunningProcess, subprocess_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.django_db
def test_the_standin_command_serves_tokens_and_the_demo_site(tmp_path):
    port = free_port()
    process = RunningProcess(
        [sys.executable, "manage.py", "wix_standin", "--port", str(port)],
        subprocess_env(WIX_APP_ID="cmd-app", WIX_APP_SECRET="cmd-secret"),
        tmp_path / "standin.log",
    )
    try:
        process.wait_for_output("Wix stand-in listening", timeout=30)
        base = f"http://127.0.0.1:{port}"
        token = httpx.post(
            f"{base}/oauth2/token",
            json={
                "grant_type": "client_credentials",
                "client_id": "cmd-app",
                "client_secret": "cmd-secret",
                "instance_id": "demo-instance-0001",
            },
            timeout=5,
        ).json()
        assert token["expires_in"] == 14400
        site = httpx.get(
            f"{base}/site-properties/v4/properties",
            headers={"Authorization": token["access_token"]},
            timeout=5,
        ).json()
        assert site["properties"]["siteDisplayName"] == "Demo Studio"
        assert httpx.get(f"{base}/__stats", timeout=5).json()["counts"] == {
            "POST /oauth2/token": 1,
            "GET /site-properties/v4/properties": 1,
        }
    finally:
        process.stop()


@pytest.mark.django_db
def test_the_dashboard_url_command_signs_in(client, settings):
    settings.WIX_APP_SECRET = "url-secret"
    out = StringIO()
    call_command("wix_dashboard_url", "--instance", "url-instance-0001", stdout=out)
    url = urlsplit(out.getvalue().strip())
    assert url.path == "/app/"
    client.get(url.path, {"instance": parse_qs(url.query)["instance"][0]})
    assert SESSION_KEY in client.session
    assert Business.objects.get(instance_id="url-instance-0001").is_active
