"""Named values in app_meta: the customers' and the feeder lines' revisions, and markers of
one-off steps done."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from outage_notify.db.models import AppMeta

CUSTOMERS_REVISION = "customers_revision"
FEEDER_LINES_REVISION = "feeder_lines_revision"


def get_value(session: Session, key: str) -> str | None:
    return session.scalar(select(AppMeta.value).where(AppMeta.key == key))


def set_value(session: Session, key: str, value: str) -> None:
    row = session.get(AppMeta, key)
    if row is None:
        session.add(AppMeta(key=key, value=value))
    else:
        row.value = value


def bump_customers_revision(session: Session) -> str:
    """Every process's in-memory spatial index compares against this and reloads if stale."""
    revision = uuid.uuid4().hex
    set_value(session, CUSTOMERS_REVISION, revision)
    return revision


def customers_revision(session: Session) -> str:
    return get_value(session, CUSTOMERS_REVISION) or "empty"


def bump_feeder_lines_revision(session: Session) -> str:
    """Every process's loaded feeder network (matching/grid.py) compares against this."""
    revision = uuid.uuid4().hex
    set_value(session, FEEDER_LINES_REVISION, revision)
    return revision


def feeder_lines_revision(session: Session) -> str:
    return get_value(session, FEEDER_LINES_REVISION) or "empty"
