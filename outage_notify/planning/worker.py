"""The planning worker: takes pending planning jobs and advances them a chunk per transaction.

Runs as a thread inside `serve` and `outage-notify worker`, beside the dispatcher, which it
wakes after every chunk so the first messages leave while later chunks are still planned.
Several workers share the jobs on PostgreSQL (leases, SKIP LOCKED); a worker that dies leaves
its job leased until the lease runs out, then another takes it up where the last committed
chunk ended.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from outage_notify.db.engine import transaction
from outage_notify.db.transient import is_transient
from outage_notify.planning import jobs
from outage_notify.planning.jobs import JobContext, Step

log = logging.getLogger(__name__)
# A job is given back after this long so that one storm-sized incident does not keep every
# other incident waiting: the next claim takes the oldest pending job.
TURN_SECONDS = 2.0
# A job whose step failed is left alone this long (its error kept on the job), so one bad
# incident never holds the others up.
RETRY_AFTER = timedelta(seconds=30)
# A step that lost a race with another transaction (deadlock, lock timeout) is tried again
# almost at once: nothing is wrong with the incident.
RETRY_AFTER_RACE = timedelta(seconds=1)


class PlanningWorker:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        context: JobContext,
        now: Callable[[], datetime],
        worker_id: str,
        on_planned: Callable[[], None] = lambda: None,
        before_step: Callable[[], None] = lambda: None,
        idle_seconds: float = 1.0,
        pause_between_steps: float = 0.0,
    ) -> None:
        self._sessions = sessions
        self.context = context
        self._now = now
        self.worker_id = worker_id
        self._on_planned = on_planned
        self._before_step = before_step
        self._pause = pause_between_steps
        self._idle = idle_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="planner", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        """A planning job was recorded: look now rather than at the next idle tick."""
        self._wake.set()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # one bad job must not stop planning for every other incident
                log.exception("planning step failed; continuing")
                worked = 0
            if worked == 0:
                self._wake.wait(self._idle)
                self._wake.clear()

    def drain(self, *, timeout: float = 120.0) -> int:
        """Plans every pending job to the end, then returns the steps taken (tests, demo)."""
        deadline = time.monotonic() + timeout
        total = 0
        while time.monotonic() < deadline:
            steps = self.run_once(turn_seconds=timeout)
            total += steps
            if steps == 0:
                return total
        raise TimeoutError(f"planning not finished after {timeout} s")

    def run_once(self, *, turn_seconds: float = TURN_SECONDS) -> int:
        """Claims one job and advances it for one turn; returns the steps taken."""
        with transaction(self._sessions) as session:
            incident_id = jobs.claim(
                session, worker=self.worker_id, now=self._now(), lease=self.context.lease
            )
        if incident_id is None:
            return 0
        try:
            steps, last = self._advance(incident_id, time.monotonic() + turn_seconds)
        except Exception as exc:  # a job that fails waits, and every other incident goes on
            self._defer(incident_id, exc)
            return 1
        if last is Step.PLANNED:  # its turn is over with work left: give it back
            with transaction(self._sessions) as session:
                jobs.release(session, incident_id=incident_id, worker=self.worker_id)
        return steps

    def _defer(self, incident_id: str, exc: Exception) -> None:
        if is_transient(exc):
            log.warning("planning incident %s lost a race; trying again: %s", incident_id, exc)
            wait = RETRY_AFTER_RACE
        else:
            log.exception("planning incident %s failed; it waits and is tried again", incident_id)
            wait = RETRY_AFTER
        with transaction(self._sessions) as session:
            jobs.defer(
                session,
                incident_id=incident_id,
                worker=self.worker_id,
                error=f"{type(exc).__name__}: {exc}",
                until=self._now() + wait,
            )

    def _advance(self, incident_id: str, ends: float) -> tuple[int, Step]:
        """Steps the job until it is done, lost or its turn ends: (steps, the last step)."""
        steps, last = 0, Step.PLANNED
        while not self._stop.is_set():
            self._before_step()
            with transaction(self._sessions) as session:
                progress = jobs.advance(
                    session,
                    incident_id=incident_id,
                    worker=self.worker_id,
                    context=self.context,
                    now=self._now(),
                )
            steps, last = steps + 1, progress.step
            if progress.messages:
                self._on_planned()
            if progress.step in (Step.DONE, Step.LOST) or time.monotonic() > ends:
                break
            if self._pause and progress.messages:  # the dispatcher's turn to write
                self._stop.wait(self._pause)
        return steps, last
