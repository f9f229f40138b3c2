"""The scheduler inside `serve` and `worker`: APScheduler keeps trying for the clock's lease
and, only while this process holds it, runs each job when it is due.

Due means: the job's period has passed since its last start recorded in job_runs, by whoever
ran it. So the period holds for the deployment, not per process: a restart or a new lease
holder does not run a job again early, and a job that never ran runs at the first tick.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session, sessionmaker

from outage_notify.clock import Clock
from outage_notify.db.engine import reading, transaction
from outage_notify.scheduler import lease, runs
from outage_notify.scheduler.jobs import JOBS, Job, JobContext, Outcome, owner_id, run_job

if TYPE_CHECKING:
    from outage_notify.config import Settings
    from outage_notify.incidents.service import IncidentService

log = logging.getLogger(__name__)
LEASE = "clock"


class Scheduler:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        settings: Settings,
        clock: Clock,
        read_sessions: sessionmaker[Session] | None = None,
        jobs: dict[str, Job] | None = None,
        incidents: IncidentService | None = None,
        warm: Callable[[], None] = lambda: None,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.owner = owner_id("clock")
        self.jobs = JOBS if jobs is None else jobs
        self._sessions = sessions
        self._read_sessions = read_sessions or sessions
        self._clock = clock
        self._settings = settings
        self._ttl = timedelta(seconds=settings.clock_lease_seconds)
        self._renew = settings.clock_renew_seconds
        self._stopping = threading.Event()
        self._ctx = JobContext(
            sessions,
            settings,
            clock,
            self.owner,
            self._stopping.is_set,
            incidents=incidents,
            warm=warm,
            wake=wake,
        )
        self._held_until: datetime | None = None
        self._aps = BackgroundScheduler(
            timezone=UTC,
            # A tick missed while the process was busy runs once, late, rather than never or
            # several times; one run of a job at a time in this process.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    # ---- running -----------------------------------------------------------------------------

    def start(self) -> None:
        self._aps.add_job(
            self.keep_lease,
            "interval",
            seconds=self._renew,
            id="lease",
            next_run_time=datetime.now(UTC),
        )
        for job in self.jobs.values():
            # A job is looked at at least once per lease renewal, so that a new holder runs
            # what is overdue soon after it takes over.
            check = min(job.period(self._settings).total_seconds(), self._renew)
            self._aps.add_job(self.tick, "interval", args=[job], seconds=check, id=job.name)
        self._aps.start()
        log.info("scheduler %s started: %s", self.owner, ", ".join(self.jobs) or "no jobs")

    def stop(self) -> None:
        """Waits for a job under way (jobs look at ctx.stopping between steps), then gives the
        lease up so that another process takes over at its next try, not after expiry."""
        self._stopping.set()
        if self._aps.running:
            self._aps.shutdown(wait=True)
        if self._held_until is not None:
            self._held_until = None
            try:
                with transaction(self._sessions) as session:
                    lease.release(session, name=LEASE, owner=self.owner)
            except Exception:  # it will expire on its own
                log.warning("could not release the clock lease", exc_info=True)

    @property
    def running(self) -> bool:
        return bool(self._aps.running)

    # ---- the lease ---------------------------------------------------------------------------

    def keep_lease(self) -> bool:
        """Takes or renews the lease; True while this process holds it."""
        now = self._clock.now()
        try:
            with transaction(self._sessions) as session:
                ours = lease.acquire(session, name=LEASE, owner=self.owner, now=now, ttl=self._ttl)
        except Exception:
            # Whether the renewal was written is unknown; what was held before still holds
            # until it runs out (holding() says so), and the next try may get through.
            log.warning("clock lease: database unavailable", exc_info=True)
            return self.holding()
        was = self.holding()
        # Sweeps stop one renewal period before the lease runs out in the database: a holder
        # that cannot renew stops before another process can take over, whatever small skew
        # there is between the machines' clocks.
        self._held_until = now + self._ttl - timedelta(seconds=self._renew) if ours else None
        if ours != was:
            log.info("clock lease %s by %s", "taken" if ours else "lost", self.owner)
        return ours

    def holding(self) -> bool:
        held_until = self._held_until
        return held_until is not None and self._clock.now() < held_until

    # ---- jobs --------------------------------------------------------------------------------

    def tick(self, job: Job) -> Outcome | None:
        """Runs the job if this process holds the lease and the job is due; None otherwise."""
        if self._stopping.is_set() or not self.holding():
            return None
        try:
            if not self.due(job):
                return None
            return run_job(job, self._ctx)
        except Exception:  # the database refused even the bookkeeping: try at the next tick
            log.exception("job %s could not be run", job.name)
            return None

    def due(self, job: Job) -> bool:
        with reading(self._read_sessions) as session:
            last = runs.last_started(session, name=job.name)
        return last is None or self._clock.now() - last >= job.period(self._settings)
