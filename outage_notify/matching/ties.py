"""An incident's ties (incident_customers) made to follow a match computed in memory: the
SQLite side of postgis.move_ties, with the same meaning and result.

Only the differences are written: the affected ties are read once (one int per customer) and
compared with the match in numpy, then the gained are tied and the lost released in chunks of
CHUNK ids per statement, under SQLite's limit on bound variables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from outage_notify.db.engine import upsert_insert
from outage_notify.db.models import Customer
from outage_notify.db.types import UTCDateTime
from outage_notify.matching.postgis import TieMoves, ties

CHUNK = 1000


def affected_pks(session: Session, incident_id: str) -> np.ndarray:
    """The incident's affected customers, sorted."""
    query = sa.select(ties.c.customer_pk).where(ties.c.incident_id == incident_id, ties.c.affected)
    found = session.scalars(query).all()
    return np.sort(np.fromiter(found, dtype=np.int64, count=len(found)))


def move_ties_in_memory(
    session: Session, *, incident_id: str, matched_pks: np.ndarray, now: datetime
) -> TieMoves:
    """Ties the newly matched (or re-ties them: affected since `now`), releases the affected no
    longer matched (at `now`), leaves the rest; moved ties lose their planned_version. An empty
    match releases every affected tie."""
    matched = np.unique(np.asarray(matched_pks, dtype=np.int64))
    current = affected_pks(session, incident_id)
    gained = np.setdiff1d(matched, current, assume_unique=True)
    lost = np.setdiff1d(current, matched, assume_unique=True)
    tied = sum(_gain(session, incident_id, chunk, now) for chunk in _chunks(gained))
    released = sum(_release(session, incident_id, chunk, now) for chunk in _chunks(lost))
    return TieMoves(tied, released)


def _chunks(pks: np.ndarray) -> list[list[int]]:
    return [pks[start : start + CHUNK].tolist() for start in range(0, len(pks), CHUNK)]


def _gain(session: Session, incident_id: str, pks: list[int], now: datetime) -> int:
    """INSERT … SELECT from customers, so a customer erased meanwhile is skipped rather than
    breaking the foreign key; a released tie comes back through ON CONFLICT."""
    rows = sa.select(
        sa.literal(incident_id, sa.String),
        Customer.id,
        sa.true(),
        sa.literal(now, UTCDateTime()),
        sa.false(),
    ).where(Customer.id.in_(pks))
    insert = upsert_insert(session)(ties).from_select(
        ["incident_id", "customer_pk", "affected", "since", "planned_affected"], rows
    )
    statement = insert.on_conflict_do_update(
        index_elements=[ties.c.incident_id, ties.c.customer_pk],
        set_={"affected": True, "since": now, "released_at": None, "planned_version": None},
        where=~ties.c.affected,
    )
    return _counted(session.execute(statement.returning(ties.c.customer_pk)))


def _release(session: Session, incident_id: str, pks: list[int], now: datetime) -> int:
    statement = (
        sa.update(ties)
        .where(ties.c.incident_id == incident_id, ties.c.affected, ties.c.customer_pk.in_(pks))
        .values(affected=False, released_at=now, planned_version=None)
        .returning(ties.c.customer_pk)
    )
    return _counted(session.execute(statement))


def _counted(result: sa.Result[Any]) -> int:
    """Rows the statement touched, from RETURNING: psycopg reports -1 as the row count of an
    INSERT … SELECT … ON CONFLICT."""
    return len(result.all())
