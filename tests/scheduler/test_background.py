"""The scheduler: sweeps run only under the lease, when due by job_runs, and a job that
raises is recorded while the others go on. Real APScheduler threads where it matters; a
ManualClock where time has to move."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from outage_notify.clock import ManualClock
from outage_notify.config import Settings
from outage_notify.db.models import JobRun
from outage_notify.runtime import Runtime
from outage_notify.scheduler import lease, runs
from outage_notify.scheduler.background import LEASE, Scheduler
from outage_notify.scheduler.jobs import Job, JobContext, owner_id

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FAST = {"clock_lease_seconds": 1.0, "clock_renew_seconds": 0.2}


class Calls:
    """What a test job saw: which owner ran it, in order."""

    def __init__(self) -> None:
        self.owners: list[str] = []
        self._lock = threading.Lock()

    def job(self, name: str, every: float, *, fails: bool = False) -> Job:
        def run(ctx: JobContext) -> dict[str, Any]:
            with self._lock:
                self.owners.append(ctx.owner)
            if fails:
                raise RuntimeError("the feed is down")
            return {"seen": ctx.clock.now().isoformat()}

        return Job(name, timedelta(seconds=every), run, "a test job")


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def job_runs(runtime: Runtime) -> dict[str, runs.LastRun]:
    with runtime.reading() as session:
        return runs.last_runs(session)


@pytest.fixture
def fast_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(**FAST)


@pytest.fixture
def runtimes(fast_settings: Settings) -> Iterator[list[Runtime]]:
    """Two processes' worth of runtime on the same SQLite file."""
    built = [Runtime.build(fast_settings), Runtime.build(fast_settings)]
    yield built
    for runtime in built:
        runtime.close()


def scheduler(runtime: Runtime, jobs: dict[str, Job], clock: Any = None) -> Scheduler:
    return Scheduler(
        sessions=runtime.sessions,
        read_sessions=runtime.read_sessions,
        settings=runtime.settings,
        clock=clock or runtime.clock,
        jobs=jobs,
    )


# ---- with a manual clock: no threads, time moved by hand ---------------------------------------


def test_a_job_runs_only_under_the_lease_and_when_due(runtime: Runtime) -> None:
    clock = ManualClock(T0)
    calls = Calls()
    job = calls.job("sweep", every=60)
    first, second = scheduler(runtime, {"sweep": job}, clock), scheduler(runtime, {}, clock)
    assert second.keep_lease()
    assert not first.keep_lease()
    assert first.tick(job) is None  # not the holder
    clock.advance(runtime.settings.clock_lease_seconds)  # the holder stopped renewing
    assert first.keep_lease()
    assert not second.keep_lease()
    outcome = first.tick(job)
    assert outcome is not None and outcome.ok
    assert first.tick(job) is None  # ran just now: not due
    clock.advance(59)
    assert first.keep_lease() and first.tick(job) is None
    clock.advance(1)
    assert first.keep_lease() and first.tick(job) is not None
    assert calls.owners == [first.owner, first.owner]
    last = job_runs(runtime)["sweep"]
    assert (last.runs, last.owner, last.started_at) == (2, first.owner, clock.now())
    assert last.result == {"seen": clock.now().isoformat()}


def test_a_holder_that_cannot_renew_stops_sweeping_before_its_lease_runs_out(
    runtime: Runtime,
) -> None:
    clock = ManualClock(T0)
    calls = Calls()
    job = calls.job("sweep", every=1)
    holder = scheduler(runtime, {"sweep": job}, clock)
    assert holder.keep_lease()
    with runtime.transaction() as session:
        expires = lease.holder(session, name=LEASE, now=clock.now())
    assert expires is not None
    # No renewal from here on: the holder stops one renewal period before the expiry, so a
    # process that takes over at expiry never overlaps it.
    clock.set(expires.expires_at - timedelta(seconds=runtime.settings.clock_renew_seconds))
    assert not holder.holding()
    assert holder.tick(job) is None
    assert calls.owners == []


def test_the_period_holds_across_holders(runtime: Runtime) -> None:
    """A new holder does not run again what the old one ran a moment ago."""
    clock = ManualClock(T0)
    calls = Calls()
    job = calls.job("sweep", every=600)
    old = scheduler(runtime, {"sweep": job}, clock)
    assert old.keep_lease() and old.tick(job) is not None
    old.stop()  # releases the lease
    new = scheduler(runtime, {"sweep": job}, clock)
    clock.advance(30)
    assert new.keep_lease()
    assert new.tick(job) is None
    clock.advance(570)
    assert new.keep_lease() and new.tick(job) is not None
    assert calls.owners == [old.owner, new.owner]


# ---- real schedulers --------------------------------------------------------------------------


def test_two_schedulers_on_one_database_run_each_sweep_under_one_owner(
    runtimes: list[Runtime],
) -> None:
    calls = Calls()
    jobs = {"a": calls.job("a", every=0.1), "b": calls.job("b", every=0.15)}
    schedulers = [scheduler(runtime, jobs) for runtime in runtimes]
    for each in schedulers:
        each.start()
    try:
        wait_until(lambda: len(calls.owners) >= 12)
    finally:
        for each in schedulers:
            each.stop()
    assert len(set(calls.owners)) == 1
    holder = calls.owners[0]
    assert holder in {each.owner for each in schedulers}
    recorded = job_runs(runtimes[0])
    assert {name: last.owner for name, last in recorded.items()} == {"a": holder, "b": holder}
    assert sum(last.runs for last in recorded.values()) == len(calls.owners)
    with runtimes[0].reading() as session:  # stopped cleanly: the lease was given up
        assert lease.holder(session, name=LEASE, now=datetime.now(UTC)) is None


def test_when_the_holder_dies_the_other_takes_over_within_lease_and_renewal(
    runtimes: list[Runtime],
) -> None:
    calls = Calls()
    jobs = {"a": calls.job("a", every=0.1)}
    first = scheduler(runtimes[0], jobs)
    first.start()
    wait_until(lambda: len(calls.owners) >= 2)
    second = scheduler(runtimes[1], jobs)
    second.start()
    try:
        time.sleep(0.5)
        assert set(calls.owners) == {first.owner}
        # Dies: its threads stop and it never releases the lease.
        first._aps.shutdown(wait=True)
        died = time.monotonic()
        seen = len(calls.owners)
        wait_until(lambda: second.owner in calls.owners[seen:])
        took = time.monotonic() - died
    finally:
        second.stop()
    settings = runtimes[0].settings
    # Not before the dead holder's lease ran out; within lease + one renewal (plus slack).
    assert took >= settings.clock_lease_seconds - settings.clock_renew_seconds - 0.05
    assert took <= settings.clock_lease_seconds + settings.clock_renew_seconds + 1.0
    assert set(calls.owners[seen:]) == {second.owner}


def test_a_job_that_raises_is_recorded_and_the_scheduler_goes_on(
    runtimes: list[Runtime],
) -> None:
    runtime = runtimes[0]
    calls = Calls()
    jobs = {"boom": calls.job("boom", every=0.1, fails=True), "fine": calls.job("fine", 0.1)}
    clockwork = scheduler(runtime, jobs)
    clockwork.start()
    try:
        wait_until(lambda: [r.runs >= 3 for r in job_runs(runtime).values()] == [True, True])
        assert clockwork.running
    finally:
        clockwork.stop()
    recorded = job_runs(runtime)
    assert recorded["boom"].error == "RuntimeError: the feed is down"
    assert recorded["boom"].result is None
    assert recorded["fine"].error is None and recorded["fine"].result is not None
    with runtime.reading() as session:
        rows = session.scalars(select(JobRun).order_by(JobRun.name)).all()
    assert [row.name for row in rows] == ["boom", "fine"]


def test_an_owner_id_fits_the_owner_columns_whatever_the_host_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "h" * 64)
    owner = owner_id("run-job")
    assert owner.startswith("run-job:hhh") and len(owner) <= 80
