"""A PostgreSQL cluster of the chaos run's own: initdb into a temporary directory, a free port.

The "PostgreSQL restart under load" fault restarts this one, never a server that others use.
``initdb`` and the server refuse to run as root: as root they run as the ``postgres`` user
(``runuser``), which must then own the directory.
"""

# ruff: noqa: S603 - runs PostgreSQL's own programs

import contextlib
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

BIN_CANDIDATES = (
    "/usr/lib/postgresql/17/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/15/bin",
)


class PostgresError(RuntimeError):
    pass


def find_bin_dir() -> Path:
    """The directory of ``initdb`` and ``pg_ctl`` (Debian keeps them off PATH)."""
    for candidate in (os.environ.get("PG_BIN_DIR", ""), *BIN_CANDIDATES):
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise PostgresError("initdb not found: install PostgreSQL's server or set PG_BIN_DIR")


class OwnPostgres:
    """One throwaway cluster: ``init()``, ``start()``, ``restart()``, ``stop()``, ``remove()``."""

    def __init__(self, *, root: Path, port: int, bin_dir: Path | None = None) -> None:
        self.root = root
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.port = port
        self.bin_dir = bin_dir or find_bin_dir()
        self.as_postgres = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/chaos"

    def _run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
        command = [str(self.bin_dir / argv[0]), *argv[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise PostgresError(f"{argv[0]} failed: {(done.stderr or done.stdout).strip()[-800:]}")
        return done

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "max_connections": "200",
            "shared_buffers": "128MB",
            "log_min_messages": "warning",
        }
        with open(self.data / "postgresql.auto.conf", "a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        with contextlib.suppress(PostgresError):  # exists already after a restart
            self._run(
                "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "chaos"
            )

    def restart(self) -> float:
        """``pg_ctl restart -m fast`` (every connection is cut); seconds until it answers."""
        started = time.monotonic()
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            "-m",
            "fast",
            "restart",
        )
        return time.monotonic() - started

    def running(self) -> bool:
        try:
            self._run("pg_ctl", "-D", str(self.data), "status", timeout=20)
        except (PostgresError, subprocess.TimeoutExpired):
            return False
        return True

    def stop(self) -> None:
        if self.data.exists() and self.running():
            with contextlib.suppress(PostgresError, subprocess.TimeoutExpired):
                self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "-m", "fast", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
