"""The product as production runs it, on the chaos run's own PostgreSQL and loopback servers.

gunicorn (sync workers) with ``DJANGO_ENV=production``, two ``manage.py qcluster`` clusters on
the ORM broker, the Wix stand-in (``manage.py wix_standin``) and the switchable SMTP server
(``common.smtp_sink``). Each runs in its own session (process group) and receives SIGTERM if
this process dies, even by SIGKILL; ``stop()`` kills what is left of every group.

Time compression: every waiting time of the product that decides how fast it recovers
(backoffs, the breaker's cooldown, SMTP and Wix timeouts, leases) is multiplied by
``time_scale`` through the product's own settings, so a 10-minute outage at 0.1 takes one
minute and sees the same number of retries and probes.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from common import benchkit
from common.smtp_sink import write_control

PUBLIC_KEY = "integrations/wix/standin/keys/DEV_ONLY_webhook_public.pem"


@dataclass
class Ports:
    web: int = field(default_factory=benchkit.free_port)
    smtp: int = field(default_factory=benchkit.free_port)
    wix: int = field(default_factory=benchkit.free_port)


def scaled(seconds: float, scale: float, *, minimum: float) -> str:
    return f"{max(minimum, seconds * scale):g}"


def product_env(
    *, database_url: str, cache_url: str, ports: Ports, tmp: Path, scale: float, base_dir: Path
) -> dict[str, str]:
    """Production settings; what differs is plain http on loopback, limits and time scale."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("DJANGO_", "DATABASE_", "CACHE_", "WIX_", "API_RATE", "Q_", "EMAIL_", "DELIVERY_")
        )
        and k not in ("PYTEST_CURRENT_TEST",)
    }
    email_timeout = float(scaled(10, scale, minimum=2))
    send_deadline = max(3 * email_timeout, 6.0)
    q_timeout = max(10, int(120 * scale))
    env.update(
        DJANGO_ENV="production",
        DJANGO_SETTINGS_MODULE="config.settings",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="127.0.0.1",
        SITE_URL=f"http://127.0.0.1:{ports.web}",
        DATABASE_URL=database_url,
        CACHE_URL=cache_url,
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(ports.smtp),
        EMAIL_TIMEOUT=f"{email_timeout:g}",
        DELIVERY_SEND_DEADLINE_SECONDS=f"{send_deadline:g}",
        DELIVERY_BACKOFF_BASE_SECONDS=scaled(30, scale, minimum=0.5),
        DELIVERY_BACKOFF_CAP_SECONDS=scaled(3600, scale, minimum=5),
        OUTBOX_BACKOFF_BASE_SECONDS=scaled(30, scale, minimum=0.5),
        OUTBOX_BACKOFF_CAP_SECONDS=scaled(3600, scale, minimum=5),
        OUTBOX_WEBHOOK_RECEIPT_BACKOFF_BASE_SECONDS=scaled(15, scale, minimum=0.5),
        # The mail service's tracking webhook (bounces) exists only with its signing key.
        MAILGUN_WEBHOOK_SIGNING_KEY=secrets.token_hex(24),
        WIX_API_BASE_URL=f"http://127.0.0.1:{ports.wix}",
        WIX_APP_ID="chaos-app",
        WIX_APP_SECRET=secrets.token_urlsafe(32),
        WIX_WEBHOOK_PUBLIC_KEY=(base_dir / PUBLIC_KEY).read_text(),
        WIX_CONNECT_TIMEOUT=scaled(3, scale, minimum=1),
        WIX_READ_TIMEOUT=scaled(10, scale, minimum=2),
        WIX_CALL_DEADLINE=scaled(20, scale, minimum=4),
        WIX_BREAKER_COOLDOWN=scaled(30, scale, minimum=1),
        Q_TIMEOUT=str(q_timeout),
        Q_WORKERS="2",
        # Plain http on loopback: no redirect to https.
        SECURE_SSL_REDIRECT="false",
        # The load comes from one IP and one key per business: production's per-IP and
        # per-key limits would answer 429 (they still run). One address answers every client.
        API_RATE_LIMIT_PER_KEY="1000000/minute",
        API_RATE_LIMIT_PER_IP="1000000/minute",
        PUBLIC_ANSWER_RATE_LIMIT="1000000/minute",
        PROMETHEUS_MULTIPROC_DIR=str(tmp / "prometheus"),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    (tmp / "prometheus").mkdir(exist_ok=True)
    return env


class Stack:
    """Starts, watches and stops the product's processes."""

    def __init__(self, *, base_dir: Path, tmp: Path, env: dict, ports: Ports, web_workers: int):
        self.base_dir = base_dir
        self.tmp = tmp
        self.env = env
        self.ports = ports
        self.web_workers = web_workers
        self.control = tmp / "smtp-control.json"
        self.accepted_log = tmp / "smtp-accepted.tsv"
        self.events_log = tmp / "smtp-events.tsv"
        self.links_log = tmp / "smtp-links.tsv"
        self.children: dict[str, benchkit.Child] = {}
        self.clusters: list[benchkit.Cluster] = []

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.web}"

    @property
    def wix_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.wix}"

    # -- start ------------------------------------------------------------------------------
    def _child(self, name: str, argv: list[str], *, env: dict | None = None) -> benchkit.Child:
        child = benchkit.Child(
            argv=argv, env=env or self.env, log_path=self.tmp / f"{name}.log", cwd=self.base_dir
        ).start()
        self.children[name] = child
        return child

    def start(self) -> None:
        # Production settings serve hashed static files from a manifest: build it, as a deploy
        # does (a clean checkout has none, and a stale one lacks newer files).
        collected = subprocess.run(  # noqa: S603 (our own manage.py, fixed arguments)
            [sys.executable, str(self.base_dir / "manage.py"), "collectstatic", "--noinput", "-v0"],
            env=self.env,
            cwd=self.base_dir,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if collected.returncode != 0:
            raise RuntimeError(f"collectstatic failed: {collected.stderr[-2000:]}")
        self.smtp(mode="accept")
        self._child(
            "smtp",
            [
                sys.executable,
                "-m",
                "common.smtp_sink",
                "--port",
                str(self.ports.smtp),
                "--out",
                str(self.accepted_log),
                "--control",
                str(self.control),
                "--events",
                str(self.events_log),
                "--links",
                str(self.links_log),
            ],
        )
        self._child(
            "wix",
            benchkit.manage_py(self.base_dir, "wix_standin", "--port", str(self.ports.wix)),
            # Wix's side, not the product: the stand-in refuses production settings.
            env={**self.env, "DJANGO_ENV": "development", "DATABASE_URL": "sqlite://:memory:"},
        )
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self._child(
            "web",
            [
                str(gunicorn),
                "config.wsgi:application",
                "--workers",
                str(self.web_workers),
                "--worker-class",
                "sync",
                "--bind",
                f"127.0.0.1:{self.ports.web}",
                "--timeout",
                "30",
                "--graceful-timeout",
                "5",
                "--log-level",
                "warning",
            ],
        )
        for name in ("cluster-a", "cluster-b"):
            cluster = benchkit.Cluster.create(
                base_dir=self.base_dir, env=self.env, workers=2, log_path=self.tmp / f"{name}.log"
            ).start()
            self.children[name] = cluster
            self.clusters.append(cluster)
        self.wait_ready()

    def wait_ready(self, timeout: float = 120) -> None:
        checks = {
            "smtp": lambda: "ready" in self.children["smtp"].log_tail(5),
            "wix": lambda: self._answers(self.wix_url + "/__stats"),
            "web": lambda: self._answers(self.web_url + "/healthz"),
        }
        for name, check in checks.items():
            if not benchkit.wait_until(check, timeout=timeout, every=0.3):
                raise RuntimeError(f"{name} did not start:\n{self.children[name].log_tail()}")
        for cluster in self.clusters:
            cluster.ready(timeout=timeout)

    @staticmethod
    def _answers(url: str) -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def dead(self) -> list[str]:
        return [name for name, child in self.children.items() if not child.alive()]

    # -- faults -----------------------------------------------------------------------------
    def smtp(self, **behaviour) -> None:
        write_control(str(self.control), **behaviour)

    def wix_faults(self, **faults) -> dict:
        return httpx.post(self.wix_url + "/__faults", json=faults, timeout=10).json()

    def wix_calls(self) -> int:
        """API calls the stand-in answered so far (control endpoints not counted)."""
        counts = httpx.get(self.wix_url + "/__stats", timeout=10).json()["counts"]
        return sum(n for key, n in counts.items() if not key.split(" ", 1)[-1].startswith("/__"))

    def gunicorn_workers(self) -> list[int]:
        return sorted(benchkit.descendants(self.children["web"].pid))

    def cluster_workers(self, cluster: benchkit.Cluster) -> set[int]:
        return cluster.processes()

    def rss(self) -> dict[str, int]:
        """Resident memory (KiB) of each process, by name (a cluster's or gunicorn's children)."""
        sizes: dict[str, int] = {}
        for name, child in self.children.items():
            if not child.alive():
                continue
            for number, pid in enumerate([child.pid, *sorted(benchkit.descendants(child.pid))]):
                label = name if number == 0 else f"{name}/{number}"
                kib = _rss_kib(pid)
                if kib is not None:
                    sizes[label] = kib
        return sizes

    # -- stop -------------------------------------------------------------------------------
    def stop(self) -> None:
        # The web server and the clusters first (they talk to the others), then the servers.
        for name in ("web", "cluster-a", "cluster-b", "wix", "smtp"):
            child = self.children.get(name)
            if child is not None:
                child.stop(grace=15)

    def kill_all(self) -> None:
        for child in self.children.values():
            if child.process is not None:
                try:
                    os.killpg(child.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass


def _rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def dump_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2, default=str))


def now() -> float:
    return time.time()
