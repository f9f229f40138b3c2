"""The bench's engine, delivery and rss parts: their options, and the helpers they measure with."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time

import pytest

from bench import services, throughput
from bench.__main__ import parse_args, plan
from tests.standins.twilio import TwilioStandIn


def test_quick_sizes_every_service_part_small() -> None:
    args = parse_args(["--quick", "--only", "engine", "--only", "delivery", "--only", "rss"])
    assert args.engine_customers == 20_000
    assert args.engine_affected == (2_000,)
    assert args.delivery_workers == (1, 4)
    assert [step[0] for step in plan(args)] == ["engine", "delivery", "rss"]


def test_full_defaults_follow_the_issue() -> None:
    args = parse_args([])
    assert args.engine_customers == 1_000_000
    assert args.engine_affected == (100_000, 500_000)
    assert args.engine_sqlite_affected == (100_000,)
    assert args.delivery_workers == (1, 4, 8)
    assert args.rss_serve_sizes == (100_000, 1_000_000)


def test_sizes_and_pairs_are_parsed() -> None:
    args = parse_args(
        ["--engine-sqlite-affected", "", "--rss-worker-cases", "100_000:4000,1000000:40000"]
    )
    assert args.engine_sqlite_affected == ()
    assert args.rss_worker_cases == ((100_000, 4_000), (1_000_000, 40_000))
    with pytest.raises(SystemExit):
        parse_args(["--rss-worker-cases", "100000"])


def test_worker_settings_are_named_without_the_prefix() -> None:
    assert throughput.parse_settings("dispatch_threads=16, SMS_CONCURRENCY=4") == {
        "DISPATCH_THREADS": "16",
        "SMS_CONCURRENCY": "4",
    }


def test_service_env_replaces_the_shells_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTAGE_NOTIFY_DISPATCHER_ENABLED", "false")
    env = services.service_env("sqlite:///x.db", **services.twilio_env("http://127.0.0.1:1"))
    assert env["OUTAGE_NOTIFY_DATABASE_URL"] == "sqlite:///x.db"
    assert env["OUTAGE_NOTIFY_TWILIO_BASE_URL"] == "http://127.0.0.1:1"
    assert "OUTAGE_NOTIFY_DISPATCHER_ENABLED" not in env


def test_peak_rss_is_read_from_proc() -> None:
    peak = services.proc_status_mb(os.getpid(), "VmHWM")
    now = services.proc_status_mb(os.getpid(), "VmRSS")
    assert peak is not None and now is not None
    assert peak >= now > 1
    assert services.proc_status_mb(2**22 + 1, "VmHWM") is None  # no such process


def test_twilio_stand_in_accepts_a_burst_of_connections() -> None:
    """Hundreds of senders connecting at once are all accepted at once: a small listen backlog
    drops SYNs, and each dropped one retries a second later."""
    stand_in = TwilioStandIn("AC" + "0" * 32, "token", delay=0.3).start()
    host, port = stand_in.server.server_address[:2] if stand_in.server else ("", 0)
    connected: list[float] = []
    lock = threading.Lock()

    def connect() -> None:
        started = time.perf_counter()
        with socket.create_connection((host, port), timeout=10) as sock:
            with lock:
                connected.append(time.perf_counter() - started)
            sock.settimeout(0.5)
            with contextlib.suppress(TimeoutError):  # holds the connection a moment
                sock.recv(1)

    try:
        threads = [threading.Thread(target=connect) for _ in range(200)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        stand_in.stop()
    assert len(connected) == 200
    assert max(connected) < 0.9, max(connected)
