"""What every measurement shares: timing, memory, a fresh database, settings, progress."""

from __future__ import annotations

import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from outage_notify.config import Settings
from outage_notify.db.migrate import upgrade

T = TypeVar("T")
ENV_PREFIX = "OUTAGE_NOTIFY_"


def say(text: str) -> None:
    """Progress goes to stderr, so stdout holds only the table."""
    print(f"  [bench] {text}", file=sys.stderr, flush=True)


def drop_outage_notify_env() -> None:
    """The bench builds its own Settings: variables from the shell (or the Makefile's exported
    OUTAGE_NOTIFY_DATABASE_URL) must not reach them."""
    for name in [n for n in os.environ if n.startswith(ENV_PREFIX)]:
        del os.environ[name]


# ---- timing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timed:
    median: float
    runs: list[float]
    result: Any


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def median_time(
    fn: Callable[[Any], Any], repeats: int, setup: Callable[[], Any] = lambda: None
) -> Timed:
    """Runs fn(setup()) `repeats` times; only fn is timed. The result is the last run's."""
    runs: list[float] = []
    result: Any = None
    for _ in range(repeats):
        argument = setup()
        started = time.perf_counter()
        result = fn(argument)
        runs.append(time.perf_counter() - started)
    return Timed(statistics.median(runs), runs, result)


# ---- memory ------------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """The process's high-water resident set since it started (getrusage)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def current_rss_mb() -> float | None:
    try:
        resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


class RssSampler:
    """Samples the resident set in a thread: the peak of one phase, where getrusage only gives
    the peak of the whole process."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_mb: float | None = current_rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        now = current_rss_mb()
        if now is not None:
            self.peak_mb = max(self.peak_mb or 0.0, now)


# ---- database and settings -----------------------------------------------------------------------


@contextmanager
def fresh_database(label: str) -> Iterator[str]:
    """A migrated SQLite database in its own temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"outage-bench-{label}-") as directory:
        url = f"sqlite:///{Path(directory) / 'bench.db'}"
        upgrade(url)
        yield url


def bench_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "dispatcher_enabled": False,
        "public_url": "http://127.0.0.1:8000",
        "secret_key": "bench-secret-0123456789abcdef0123456789abcdef",
    }
    values.update(overrides)
    return Settings(**values)


def database_mb(database_url: str) -> float:
    path = Path(database_url.removeprefix("sqlite:///"))
    files = [path, path.with_name(path.name + "-wal")]
    return sum(f.stat().st_size for f in files if f.exists()) / (1024 * 1024)


# ---- isolation -----------------------------------------------------------------------------------


def run_isolated(fn: Callable[..., T], *args: Any) -> T:
    """fn(*args) in a fresh spawned process: each measurement starts from a clean interpreter
    and getrusage's peak RSS is its own. Raises RuntimeError with the child's traceback."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_call_and_send, args=(sender, fn, args))
    process.start()
    sender.close()
    try:
        status, payload = receiver.recv()
    except EOFError:
        status, payload = "error", f"the process died (exit code {process.exitcode})"
    process.join()
    if status != "ok":
        raise RuntimeError(f"{getattr(fn, '__name__', fn)} failed:\n{payload}")
    result: T = payload
    return result


def _call_and_send(sender: Connection, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        sender.send(("ok", fn(*args)))
    except BaseException:
        sender.send(("error", traceback.format_exc()))
    finally:
        sender.close()
