"""A throwaway PostgreSQL 15 + PostGIS cluster in a temporary directory, for the bench (and,
until the shared test harness is merged, the matching tests).

The server refuses to run as root, so when this process is root the cluster is made and run as
the `postgres` user, in a directory that user owns. Stopped (by its own pg_ctl) and removed on
exit; nothing outside the temporary directory is touched.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

BIN = Path("/usr/lib/postgresql/15/bin")
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")
# Test and bench data are rebuilt on every run: durability buys nothing here.
FAST_UNSAFE = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


def available() -> str | None:
    """None when a cluster can be started here, else why not."""
    if not (BIN / "initdb").exists():
        return f"PostgreSQL 15 is not installed ({BIN / 'initdb'} is missing)"
    if not POSTGIS_CONTROL.exists():
        return "PostGIS is not installed (postgresql-15-postgis-3)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: cannot start PostgreSQL as postgres"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Cluster:
    """`with Cluster() as cluster: cluster.create_database("x")` → a SQLAlchemy URL."""

    def __init__(self, settings: tuple[str, ...] = FAST_UNSAFE) -> None:
        self.settings = settings
        self.port = free_port()
        self.directory: Path | None = None

    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def data(self) -> Path:
        assert self.directory is not None
        return self.directory / "data"

    def start(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="outage-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run(BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = " ".join(
            [f"-c port={self.port}", f"-c unix_socket_directories={self.directory}"]
            + [f"-c {setting}" for setting in self.settings]
        )
        log = self.directory / "server.log"
        self._run(BIN / "pg_ctl", "-D", self.data, "-l", log, "-o", options, "-w", "start")

    def stop(self) -> None:
        if self.directory is None:
            return
        if (self.data / "postmaster.pid").exists():
            self._run(BIN / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory = None

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new database with PostGIS; returns its URL."""
        self.psql("postgres", f'CREATE DATABASE "{name}"')
        self.psql(name, "CREATE EXTENSION postgis")
        return self.url(name)

    def psql(self, database: str, sql: str) -> str:
        done = self._run(
            BIN / "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
            "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql,
        )  # fmt: skip
        return done.stdout

    def _run(self, *command: object) -> subprocess.CompletedProcess[str]:
        args = [str(c) for c in command]
        if os.geteuid() == 0:
            args = ["runuser", "-u", "postgres", "--", *args]
        return subprocess.run(
            args, check=True, capture_output=True, text=True, timeout=120, cwd="/tmp"
        )
