"""The machine around a run: wrk, the server's environment, the facts the report states."""

# ruff: noqa: S603, S607 - runs local tools (apt-get, psql, git) with arguments it builds itself.

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
from pathlib import Path

from console.bench.base import BASE_DIR, BENCH_QUEUE, BenchError
from console.bench.results import parse_loadavg


def load_signing_key():
    """The stand-in's DEV-ONLY private key as a key object (sign_webhook accepts either)."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from integrations.wix.standin.webhooks import DEV_PRIVATE_KEY

    return load_pem_private_key(DEV_PRIVATE_KEY.encode(), password=None)


def ensure_tools(stdout) -> None:
    """wrk from Debian's packages, installed when missing (the bench runs as root)."""
    if shutil.which("wrk") is not None:
        return
    stdout.write("Installing wrk from Debian's packages…")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BenchError(f"Could not install wrk ({exc}); install it with apt-get") from None


def server_env(options: dict, port: int, tmp: Path) -> dict:
    """Production settings, plus only what plain http on loopback and measuring need."""
    public_key = BASE_DIR / "integrations/wix/standin/keys/DEV_ONLY_webhook_public.pem"
    prometheus = tmp / "prometheus"
    prometheus.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "CACHE_", "WIX_", "API_RATE", "Q_"))
    }
    env.update(
        DJANGO_ENV="production",
        DJANGO_SETTINGS_MODULE="config.bench_settings",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="127.0.0.1",
        SITE_URL=f"http://127.0.0.1:{port}",
        DATABASE_URL=options["database_url"],
        CACHE_URL=options["cache_url"],
        EMAIL_HOST="127.0.0.1",
        WIX_APP_ID="bench-app",
        WIX_APP_SECRET=secrets.token_urlsafe(32),
        WIX_WEBHOOK_PUBLIC_KEY=public_key.read_text(),
        # Plain http on loopback: no redirect to https.
        SECURE_SSL_REDIRECT="false",
        # Every request of a step comes from one key and one IP: production's limits
        # (300/minute per key) would answer 429 within a second. The throttles still run.
        API_RATE_LIMIT_PER_KEY="100000000/minute",
        API_RATE_LIMIT_PER_IP="100000000/minute",
        # Tasks enqueued by the webhooks go to a queue no production cluster reads (deleted
        # by the cleanup step).
        Q_CLUSTER_NAME=BENCH_QUEUE,
        PROMETHEUS_MULTIPROC_DIR=str(prometheus),
        LOG_LEVEL=options["log_level"],
        PYTHONUNBUFFERED="1",
    )
    return env


def _die_with_parent() -> None:
    """In the gunicorn child: SIGTERM when this command dies, even by SIGKILL (Linux)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


def redact_url(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]+@", r"//\1:***@", url)


def read_loadavg() -> str:
    try:
        return parse_loadavg(Path("/proc/loadavg").read_text())
    except OSError:
        return "?"


def machine_facts(database_url: str) -> dict:
    import django

    def run(*cmd: str) -> str:
        try:
            return subprocess.run(
                cmd, capture_output=True, text=True, timeout=30, cwd=BASE_DIR
            ).stdout.strip()
        except OSError:
            return "?"

    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        ram = f"{kb / 1024 / 1024:.1f} GiB"
    pg = run("psql", database_url, "-tA", "-c", "SHOW server_version")
    dirty = run("git", "status", "--porcelain", "--untracked-files=no")
    commit = run("git", "rev-parse", "--short", "HEAD") + (
        " + uncommitted changes" if dirty else ""
    )
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram": ram,
        "postgres": pg or "?",
        "django": django.get_version(),
        "commit": commit,
        "loadavg": read_loadavg(),
    }
