"""The service as an operator runs it, for the engine, delivery and rss parts: `outage-notify
serve` and `outage-notify worker` as subprocesses with OUTAGE_NOTIFY_* settings, a Twilio
stand-in in a process of its own (optionally answering each message after a delay), synthetic
customers written fast, peak RSS read from /proc.

Times are time.perf_counter (CLOCK_MONOTONIC on Linux), one clock for every process here, so a
message's arrival at the stand-in compares with the moment the bench sent a POST.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bench import data, postgres
from bench.common import say
from outage_notify import paths
from outage_notify.auth.apikeys import create_key
from outage_notify.db.migrate import upgrade
from outage_notify.timeutil import utcnow
from tests.standins.net import free_port
from tests.standins.twilio import TwilioStandIn

TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "bench-auth-token-0123456789"
TWILIO_FROM = "+358401234567"
SECRET = "bench-secret-0123456789abcdef0123456789abcdef"
# The bench cluster: durability off (the data is rebuilt every run), buffers for 1M+ customers.
CLUSTER_SETTINGS = (*postgres.FAST_UNSAFE, "shared_buffers=512MB", "max_connections=200")


# ---- the Twilio stand-in, in a process of its own ----------------------------------------------


@dataclass
class TimedTwilio(TwilioStandIn):
    arrivals: list[float] = field(default_factory=list)

    def handle(self, path: str, headers: Any, form: dict[str, str]) -> tuple[int, dict]:
        status, body = super().handle(path, headers, form)
        if status == 201:
            # Answered (after the delay): the moment the provider has the message.
            self.arrivals.append(time.perf_counter())
        return status, body


def _serve_twilio(conn: Connection, delay: float) -> None:
    twilio = TimedTwilio(TWILIO_SID, TWILIO_TOKEN, delay=delay).start()
    conn.send(twilio.base_url)
    while (command := conn.recv()) != "stop":
        if command == "count":
            conn.send(len(twilio.arrivals))
        elif command == "first":
            conn.send(twilio.arrivals[0] if twilio.arrivals else None)
        elif command == "arrivals":
            conn.send(list(twilio.arrivals))
        elif command == "cpu":
            conn.send(time.process_time())
        elif command == "reset":
            twilio.arrivals.clear()
            conn.send(True)
    twilio.stop()
    conn.send("stopped")


class TwilioProcess:
    """The parent's handle on the stand-in's process."""

    def __init__(self, delay: float = 0.0) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve_twilio, args=(child, delay), name="bench-twilio"
        )
        self._process.start()
        child.close()
        self.base_url: str = self._conn.recv()
        self.pid = self._process.pid

    def ask(self, command: str) -> Any:
        self._conn.send(command)
        return self._conn.recv()

    def count(self) -> int:
        answer: int = self.ask("count")
        return answer

    def first(self) -> float | None:
        answer: float | None = self.ask("first")
        return answer

    def arrivals(self) -> list[float]:
        answer: list[float] = self.ask("arrivals")
        return answer

    def cpu_seconds(self) -> float:
        answer: float = self.ask("cpu")
        return answer

    def reset(self) -> None:
        self.ask("reset")

    def stop(self) -> None:
        self.ask("stop")
        self._process.join(10)


@contextmanager
def twilio_stand_in(delay: float = 0.0) -> Iterator[TwilioProcess]:
    handle = TwilioProcess(delay)
    try:
        yield handle
    finally:
        handle.stop()


def twilio_env(base_url: str) -> dict[str, str]:
    return {
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_FROM": TWILIO_FROM,
        "TWILIO_BASE_URL": base_url,
    }


# ---- the service's processes ---------------------------------------------------------------------


def service_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a serve or worker process: this one's, minus any OUTAGE_NOTIFY_*
    from the shell, plus the database and `settings` (names without the prefix)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTAGE_NOTIFY_")}
    env.update(
        {
            "OUTAGE_NOTIFY_DATABASE_URL": database_url,
            "OUTAGE_NOTIFY_SECRET_KEY": SECRET,
            "PYTHONPATH": str(paths.HOME),
        }
    )
    env.update({f"OUTAGE_NOTIFY_{k.upper()}": v for k, v in settings.items()})
    return env


class Service:
    """`outage-notify serve` or `outage-notify worker` in a subprocess; its log in a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args = args
        self.log = log
        self._log_file = log.open("wb")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "outage_notify", *args],
            env=env,
            cwd=paths.HOME,  # the copy of the package whose figures these are
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def peak_rss_mb(self) -> float | None:
        return proc_status_mb(self.pid, "VmHWM")

    def rss_mb(self) -> float | None:
        return proc_status_mb(self.pid, "VmRSS")

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{' '.join(self.args)} exited {self.process.returncode}:\n{tail}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log_file.close()


def proc_status_mb(pid: int, field_name: str) -> float | None:
    """A memory line of /proc/<pid>/status (VmHWM: the peak resident set) in MB."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return None


class Serve(Service):
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        super().__init__(["serve", "--host", "127.0.0.1", "--port", str(self.port)], env, log)
        self.base_url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 300.0) -> float:
        """Waits until /healthz answers; returns the seconds since the process started."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            self.check_alive()
            try:
                with urllib.request.urlopen(self.base_url + "/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return time.perf_counter() - self.started
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"serve not ready after {timeout:.0f} s")


@contextmanager
def running(service: Service) -> Iterator[Service]:
    try:
        yield service
    finally:
        service.stop()


# ---- HTTP, as a client does it ----------------------------------------------------------------


def request(
    method: str, url: str, key: str, body: dict[str, Any] | None = None, timeout: float = 600.0
) -> tuple[int, dict[str, Any]]:
    payload = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    req = urllib.request.Request(url, data=payload, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {"error": exc.read().decode(errors="replace")}


# ---- databases and customers ------------------------------------------------------------------


def operator_key(database_url: str) -> str:
    """A new operator API key in the database (as `outage-notify apikey create` makes one)."""
    engine = sa.create_engine(database_url)
    try:
        with Session(engine) as session, session.begin():
            _, key = create_key(session, role="operator", name="bench", now=utcnow())
    finally:
        engine.dispose()
    return key


def load_customers(database_url: str, town: Any) -> float:
    """The town into a migrated database; returns the seconds it took."""
    started = time.perf_counter()
    if database_url.startswith("sqlite"):
        data.write_sqlite(database_url, town)
    else:
        data.write_postgres(database_url, town)
    return time.perf_counter() - started


def postgres_database(cluster: postgres.Cluster, name: str, town: Any) -> str:
    url = cluster.create_database(name)
    upgrade(url)
    say(f"{name}: loading {len(town):,} customers into PostgreSQL")
    load_customers(url, town)
    return url


def scalar(database_url: str, sql: str) -> Any:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(sql)).scalar()
    finally:
        engine.dispose()


def execute(database_url: str, *statements: str) -> None:
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as connection:
            for sql in statements:
                connection.execute(sa.text(sql))
    finally:
        engine.dispose()


def load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def copy_database(cluster: postgres.Cluster, template: str, name: str) -> str:
    """A copy of a loaded database (file-level, fast), so each case starts from the same
    customers with nothing planned; nobody may be connected to the template."""
    cluster.psql("postgres", f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return cluster.url(name)


def drop_database(cluster: postgres.Cluster, name: str) -> None:
    cluster.psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
