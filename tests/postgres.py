"""A throwaway PostgreSQL 15 cluster (with PostGIS available) for tests and benchmarks.

The cluster lives in a fresh directory under /tmp, listens on 127.0.0.1 at a free port and a
socket in that directory, and trades durability for speed (fsync off): nothing in it is meant to
outlive the process that started it. The server refuses to run as root, so a root caller runs
initdb and pg_ctl as the `postgres` user; anyone else runs them directly. No pytest here: bench/
uses it too.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

BIN = Path(os.environ.get("OUTAGE_NOTIFY_PG_BIN", "/usr/lib/postgresql/15/bin"))
SERVER_USER = "postgres"
SHARED_MEMORY = Path("/dev/shm")

# Speed over durability: a crash loses the cluster, which is thrown away anyway.
FAST = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


class ClusterError(RuntimeError):
    """The cluster could not be made or started; the message carries the server's log."""


class TemporaryCluster:
    """initdb + pg_ctl start in a temporary directory; stop() kills it and removes the files.

    >>> with TemporaryCluster() as cluster:
    ...     url = cluster.url("postgres")
    """

    def __init__(
        self,
        *,
        max_connections: int = 300,
        settings: dict[str, str] | None = None,
        bin_dir: Path = BIN,
        parent: Path = Path("/tmp"),
        start_attempts: int = 3,
    ) -> None:
        """parent: where the cluster's directory is made (see in_memory_parent)."""
        self.bin_dir = bin_dir
        self.parent = parent
        self.settings = {**FAST, "max_connections": str(max_connections), **(settings or {})}
        self.start_attempts = start_attempts
        self.directory: Path | None = None
        self.port: int | None = None

    # ---- life cycle ----------------------------------------------------------------------------

    def start(self) -> TemporaryCluster:
        if not (self.bin_dir / "initdb").exists():
            raise ClusterError(
                f"no PostgreSQL in {self.bin_dir}: install postgresql-15 postgresql-15-postgis-3 "
                "(scripts/system-deps.sh does)"
            )
        self.directory = Path(tempfile.mkdtemp(prefix="outage-notify-pg-", dir=self.parent))
        atexit.register(self.stop)  # a session that dies without its teardown leaves no server
        if _as_root():
            # The server's user must own its data and be able to enter the directory.
            shutil.chown(self.directory, user=SERVER_USER)
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
            "--locale",
            "C",
        )
        self._start_on_a_free_port()
        return self

    def stop(self) -> None:
        """Idempotent: an immediate stop (no checkpoint: the files go next), then removal."""
        directory, self.directory = self.directory, None
        if directory is None:
            return
        atexit.unregister(self.stop)
        if (directory / "data" / "postmaster.pid").exists():
            subprocess.run(
                self._command("pg_ctl", "stop", "-D", str(directory / "data"), "-m", "immediate"),
                capture_output=True,
                check=False,
            )
        shutil.rmtree(directory, ignore_errors=True)

    def __enter__(self) -> TemporaryCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- where to connect ----------------------------------------------------------------------

    def url(self, database: str = "postgres", *, driver: str = "psycopg") -> str:
        if self.port is None:
            raise ClusterError("the cluster is not running")
        return f"postgresql+{driver}://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def data(self) -> Path:
        if self.directory is None:
            raise ClusterError("the cluster has no directory")
        return self.directory / "data"

    @property
    def log(self) -> Path:
        if self.directory is None:
            raise ClusterError("the cluster has no directory")
        return self.directory / "server.log"

    # ---- internals -----------------------------------------------------------------------------

    def _start_on_a_free_port(self) -> None:
        # Between finding a free port and the server binding it another process may take it:
        # try again on another port rather than fail the whole session.
        for _ in range(self.start_attempts):
            port = _free_port()
            options = [f"-c {name}={value}" for name, value in self.settings.items()]
            options += [
                f"-p {port}",
                "-c listen_addresses=127.0.0.1",
                f"-k {self.directory}",
            ]
            result = subprocess.run(
                self._command(
                    "pg_ctl",
                    "start",
                    "-w",
                    "-t",
                    "60",
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.log),
                    "-o",
                    " ".join(options),
                ),
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode == 0:
                self.port = port
                return
        raise ClusterError(f"pg_ctl start failed:\n{result.stdout}{result.stderr}\n{self._log()}")

    def _run(self, program: str, *args: str) -> None:
        result = subprocess.run(
            self._command(program, *args), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise ClusterError(f"{program} failed:\n{result.stdout}{result.stderr}")

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(self.bin_dir / program), *args]
        if _as_root():
            return ["runuser", "-u", SERVER_USER, "--", *command]
        return command

    def _log(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except (OSError, ClusterError):
            return ""


def in_memory_parent(*, min_free: int = 2 * 1024**3) -> Path:
    """/dev/shm when it is there with room to spare, else /tmp. Each test copies a database
    of some thousand files: measured here on an ext4 /tmp a copy took 0.35-0.4 s when the
    disk was busy (0.045 s when idle), on /dev/shm 0.03 s. A container's /dev/shm is often
    64 MB: too small, so /tmp."""
    try:
        if os.access(SHARED_MEMORY, os.W_OK) and shutil.disk_usage(SHARED_MEMORY).free >= min_free:
            return SHARED_MEMORY
    except OSError:
        pass
    return Path("/tmp")


def _as_root() -> bool:
    return os.geteuid() == 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


if __name__ == "__main__":  # a manual check: start, ask the version, stop
    import time

    started = time.perf_counter()
    with TemporaryCluster() as cluster:
        print(cluster.url(), f"up in {time.perf_counter() - started:.2f} s")
        out = subprocess.run(
            [
                str(cluster.bin_dir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(cluster.port),
                "-U",
                "postgres",
                "-Atc",
                "SELECT version()",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        print(out.stdout.strip() or out.stderr.strip())
