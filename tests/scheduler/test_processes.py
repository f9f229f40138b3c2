"""The clock inside the processes that keep it: `serve` (the app's lifespan) and `worker`
start the scheduler, take the lease, run what is due, and give the lease up when stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from outage_notify.app import create_app
from outage_notify.config import Settings
from outage_notify.runtime import Runtime
from outage_notify.scheduler import lease, runs
from outage_notify.scheduler.background import LEASE
from tests.conftest import TEST_SECRET
from tests.scheduler.test_background import FAST, wait_until


def lease_holder(runtime: Runtime) -> str | None:
    with runtime.reading() as session:
        holder = lease.holder(session, name=LEASE, now=datetime.now(UTC))
    return holder.owner if holder else None


def retention_runs(runtime: Runtime) -> int:
    with runtime.reading() as session:
        last = runs.last_runs(session).get("retention")
    return last.runs if last else 0


def test_serve_runs_the_scheduler_while_the_app_lives(
    make_settings: Callable[..., Settings],
) -> None:
    runtime = Runtime.build(make_settings(scheduler_enabled=True, **FAST))
    with TestClient(create_app(runtime=runtime)) as client:
        wait_until(lambda: client.get("/readyz").json()["clock"]["lease"] == "this process")
        assert client.get("/readyz").json()["clock"]["scheduler"] == "running"
        # Never run before, so due at once; then not again within its hour.
        wait_until(lambda: retention_runs(runtime) == 1)
        time.sleep(3 * FAST["clock_renew_seconds"])
        assert retention_runs(runtime) == 1
    assert not runtime.scheduler.running
    assert lease_holder(runtime) is None  # released on the way out


def test_a_worker_keeps_the_clock_and_gives_it_up_on_sigterm(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    observer = Runtime.build(make_settings())
    env = {
        **os.environ,
        "OUTAGE_NOTIFY_DATABASE_URL": database_url,
        "OUTAGE_NOTIFY_SECRET_KEY": TEST_SECRET,
        "OUTAGE_NOTIFY_CLOCK_LEASE_SECONDS": str(FAST["clock_lease_seconds"]),
        "OUTAGE_NOTIFY_CLOCK_RENEW_SECONDS": str(FAST["clock_renew_seconds"]),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "outage_notify", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: (lease_holder(observer) or "").startswith("clock:"), timeout=60)
        wait_until(lambda: retention_runs(observer) == 1)
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, stderr
    assert lease_holder(observer) is None
    observer.close()


def test_a_lease_too_short_for_two_renewals_is_refused() -> None:
    with pytest.raises(ValidationError, match="at most half"):
        Settings(clock_lease_seconds=20, clock_renew_seconds=15)
    Settings(clock_lease_seconds=30, clock_renew_seconds=15)
