"""The periodic plan in one table: every named job (sweep), how often it runs, and the plain
function that does it. The scheduler (background.py) and `outage-notify run-job` both run jobs
through run_job, so a run by hand is recorded like any other.

A job reads the time from ctx.clock, owns its transactions (ctx.transaction(), as many short
ones as it needs) and returns a small JSON-able dict of what it did. It must be idempotent: a
run by hand may overlap the scheduler's, and a lease taken over from a holder that was merely
slow lets two runs overlap for a moment.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from outage_notify.clock import Clock
from outage_notify.db.engine import reading, transaction
from outage_notify.scheduler import retention, runs

if TYPE_CHECKING:
    from outage_notify.config import Settings
    from outage_notify.incidents.service import IncidentService

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobContext:
    sessions: sessionmaker[Session]
    settings: Settings
    clock: Clock
    owner: str  # who runs it: the scheduler's owner id, or run-job's
    # True once the process is shutting down: a long job stops between two steps (what is
    # left is done by the next run) rather than holding up the shutdown.
    stopping: Callable[[], bool] = lambda: False
    # For jobs that change incidents (feed polls, due rules): the service, the matcher's
    # warm-up (outside write transactions), and the workers' wake-up after a commit.
    incidents: IncidentService | None = None
    warm: Callable[[], None] = lambda: None
    wake: Callable[[], None] = lambda: None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with transaction(self.sessions) as session:
            yield session


@dataclass(frozen=True)
class Job:
    name: str
    every: timedelta
    run: Callable[[JobContext], dict[str, Any]]
    doc: str
    changes_incidents: bool = False  # needs ctx.incidents (feed polls, due rules)
    # A setting (in seconds) that overrides `every`, e.g. POLL_SECONDS for the feed polls.
    every_setting: str | None = None

    def period(self, settings: Settings) -> timedelta:
        if self.every_setting is None:
            return self.every
        return timedelta(seconds=float(getattr(settings, self.every_setting)))


def with_incidents(ctx: JobContext, dialect: str) -> JobContext:
    """The context with an incident service of its own (run-job: no runtime around)."""
    from outage_notify.incidents.service import IncidentService
    from outage_notify.matching.index_cache import CustomerIndexCache
    from outage_notify.matching.matcher import matcher_for

    matcher = matcher_for(dialect, CustomerIndexCache())

    def warm() -> None:
        with reading(ctx.sessions) as session:
            matcher.warm(session)

    return replace(
        ctx, incidents=IncidentService(matcher=matcher, settings=ctx.settings), warm=warm
    )


@dataclass(frozen=True)
class Outcome:
    name: str
    ok: bool
    result: dict[str, Any] | None
    error: str | None
    seconds: float


def _retention(ctx: JobContext) -> dict[str, Any]:
    purged = retention.purge(
        ctx.transaction,
        now=ctx.clock.now(),
        retention_days=ctx.settings.retention_days,
        stopping=ctx.stopping,
    )
    return asdict(purged)


def _poll_outages(ctx: JobContext) -> dict[str, Any]:
    from outage_notify.ingest.outage_poll import poll_outages

    return poll_outages(ctx)


def _poll_cap(ctx: JobContext) -> dict[str, Any]:
    from outage_notify.ingest.cap_poll import poll_cap

    return poll_cap(ctx)


def _due_rules(ctx: JobContext) -> dict[str, Any]:
    from outage_notify.incidents.due import run_due_rules

    return run_due_rules(ctx)


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job(
            "poll-cap",
            timedelta(seconds=60),
            _poll_cap,
            "read every source of CAP_FEEDS (conditional GET; Atom/RSS indexes followed), "
            "record each warning once, with its state: active, cancelled, filtered, rejected; "
            "an active warning is an incident of kind warning: advisories to the exposed",
            changes_incidents=True,
            every_setting="poll_seconds",
        ),
        Job(
            "due-rules",
            timedelta(seconds=15),
            _due_rules,
            "act on what time has made due: confirm outages from feeds that have lasted "
            "CONFIRM_SECONDS; etr_missed after ETR_GRACE_MINUTES; reassurance after "
            "REASSURE_HOURS of silence; planned-work reminders the evening before; planned "
            "work closed at its end; weather warnings closed at their expiry",
            changes_incidents=True,
        ),
        Job(
            "poll-outages",
            timedelta(seconds=60),
            _poll_outages,
            "read every feed of OUTAGE_FEEDS (conditional GET), apply what changed since the "
            "last poll, restore outages missing for RESTORE_AFTER_POLLS polls in a row",
            changes_incidents=True,
            every_setting="poll_seconds",
        ),
        Job(
            "retention",
            timedelta(hours=1),
            _retention,
            "purge inbound replies older than 30 days and incidents closed more than "
            "RETENTION_DAYS ago, with their messages, ties, revisions and timeline events",
        ),
    )
}


def owner_id(role: str) -> str:
    """Names a process in leases and job_runs: which host, which pid, which start. A host
    name can be 64 characters long: cut so that the whole fits the owner columns (80)."""
    return f"{role[:10]}:{socket.gethostname()[:48]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def run_job(job: Job, ctx: JobContext) -> Outcome:
    """Runs the job once now and records the run. A job that raises is recorded and logged,
    not raised: the scheduler's other jobs go on. (A database that cannot even record the
    start raises: then nothing ran.)"""
    began = time.monotonic()
    with ctx.transaction() as session:
        runs.record_start(session, name=job.name, owner=ctx.owner, now=ctx.clock.now())
    try:
        result = job.run(ctx)
    except Exception as exc:
        log.exception("job %s failed", job.name)
        error = f"{type(exc).__name__}: {exc}"
        _finish(job, ctx, error=error)
        return Outcome(job.name, False, None, error, time.monotonic() - began)
    _finish(job, ctx, result=result)
    return Outcome(job.name, True, result, None, time.monotonic() - began)


def _finish(
    job: Job, ctx: JobContext, *, result: dict[str, Any] | None = None, error: str | None = None
) -> None:
    try:
        with ctx.transaction() as session:
            runs.record_finish(
                session, name=job.name, now=ctx.clock.now(), result=result, error=error
            )
    except Exception:  # the job itself is done; only its record is lost
        log.exception("recording the end of job %s failed", job.name)
