"""Named leases in the `leases` table: whoever holds one until it expires may do what it guards.

Taking and keeping a lease is one statement, INSERT … ON CONFLICT DO UPDATE … WHERE, so two
processes that try at once cannot both win: on PostgreSQL the second waits for the first's row
lock and then sees its row; on SQLite writers are serialised by the database lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, or_, select
from sqlalchemy.orm import Session

from outage_notify.db.engine import upsert_insert
from outage_notify.db.models import Lease

LEASES = Lease.metadata.tables[Lease.__tablename__]


@dataclass(frozen=True)
class Holder:
    owner: str
    acquired_at: datetime
    expires_at: datetime


def acquire(session: Session, *, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
    """Takes the lease, or renews it when `owner` already holds it, until now + ttl. True when
    `owner` holds it afterwards; False while another owner's lease has not yet expired."""
    insert = upsert_insert(session)(LEASES).values(
        name=name, owner=owner, acquired_at=now, expires_at=now + ttl
    )
    ours = LEASES.c.owner == owner
    taken = session.execute(
        insert.on_conflict_do_update(
            index_elements=[LEASES.c.name],
            set_={
                "owner": insert.excluded.owner,
                # A renewal in time keeps the time the lease was taken: how long one holder
                # has run the clock without a break is worth seeing.
                "acquired_at": case(
                    (and_(ours, LEASES.c.expires_at > now), LEASES.c.acquired_at),
                    else_=insert.excluded.acquired_at,
                ),
                "expires_at": insert.excluded.expires_at,
            },
            where=or_(ours, LEASES.c.expires_at <= now),
        ).returning(LEASES.c.owner)
    ).scalar_one_or_none()
    return taken == owner


def release(session: Session, *, name: str, owner: str) -> bool:
    """Gives the lease up (on a clean shutdown), so another process need not wait for it to
    expire. Only its holder can release it."""
    result = session.execute(delete(LEASES).where(LEASES.c.name == name, LEASES.c.owner == owner))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def holder(session: Session, *, name: str, now: datetime) -> Holder | None:
    """Who holds the lease now; None when nobody does (never taken, released or expired)."""
    row = session.execute(
        select(LEASES.c.owner, LEASES.c.acquired_at, LEASES.c.expires_at).where(
            LEASES.c.name == name
        )
    ).one_or_none()
    if row is None or row.expires_at <= now:
        return None
    return Holder(row.owner, row.acquired_at, row.expires_at)
