"""The `job_runs` table: one row per job, its last run. Written around every run (by the
scheduler or by hand), read by /readyz and by the due check, so that a job's period holds for
the whole deployment, across restarts and a change of lease holder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from outage_notify.db.engine import upsert_insert
from outage_notify.db.models import JobRun

RUNS = JobRun.metadata.tables[JobRun.__tablename__]
MAX_ERROR = 2000  # characters of a traceback's last line kept; the log has the whole of it


@dataclass(frozen=True)
class LastRun:
    name: str
    runs: int
    started_at: datetime | None
    finished_at: datetime | None
    owner: str | None
    result: dict[str, Any] | None
    error: str | None

    @property
    def running(self) -> bool:
        return self.started_at is not None and (
            self.finished_at is None or self.finished_at < self.started_at
        )


def record_start(session: Session, *, name: str, owner: str, now: datetime) -> None:
    insert = upsert_insert(session)(RUNS).values(
        name=name, runs=1, last_started_at=now, last_owner=owner
    )
    session.execute(
        insert.on_conflict_do_update(
            index_elements=[RUNS.c.name],
            set_={"runs": RUNS.c.runs + 1, "last_started_at": now, "last_owner": owner},
        )
    )


def record_finish(
    session: Session,
    *,
    name: str,
    now: datetime,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """A run ends with a result or an error; either replaces what the last run left, so
    last_error is set exactly while the latest run failed."""
    session.execute(
        update(RUNS)
        .where(RUNS.c.name == name)
        .values(
            last_finished_at=now,
            last_result=json.dumps(result, sort_keys=True) if result is not None else None,
            last_error=error[:MAX_ERROR] if error else None,
        )
    )


def last_runs(session: Session) -> dict[str, LastRun]:
    rows = session.execute(select(RUNS).order_by(RUNS.c.name)).all()
    return {
        row.name: LastRun(
            name=row.name,
            runs=row.runs,
            started_at=row.last_started_at,
            finished_at=row.last_finished_at,
            owner=row.last_owner,
            result=json.loads(row.last_result) if row.last_result else None,
            error=row.last_error,
        )
        for row in rows
    }


def last_started(session: Session, *, name: str) -> datetime | None:
    return session.scalar(select(RUNS.c.last_started_at).where(RUNS.c.name == name))
