"""Matching on the embedded database: the process's in-memory index of customer points
decides who is inside an area, and the ties are moved by difference in Python (SQLite holds
the customers of a small utility; at scale PostgreSQL matches in the database)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from shapely.geometry import shape
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from outage_notify.db.engine import upsert_insert
from outage_notify.db.models import IncidentCustomer
from outage_notify.matching.index_cache import CustomerIndexCache

CHUNK = 900  # SQLite allows 999 bound variables in a statement


class MemoryMatcher:
    def __init__(self, cache: CustomerIndexCache) -> None:
        self.cache = cache

    def warm(self, session: Session) -> None:
        """Loads the index now, in a read-only session, if the customers changed: so the reload
        (seconds for millions of customers) never happens inside a write transaction, where on
        SQLite it would hold every other writer up."""
        self.cache.get(session)

    def matched(
        self,
        session: Session,
        *,
        area: dict[str, Any] | None,
        feeders: Sequence[str],
        transformers: Sequence[str],
    ) -> np.ndarray:
        geometry = shape(area) if area else None
        return self.cache.get(session).match(geometry, feeders, transformers)

    def count(
        self,
        session: Session,
        *,
        area: dict[str, Any] | None,
        feeders: Sequence[str],
        transformers: Sequence[str],
    ) -> int:
        return len(self.matched(session, area=area, feeders=feeders, transformers=transformers))

    def move_ties(
        self,
        session: Session,
        *,
        incident_id: str,
        area: dict[str, Any] | None,
        feeders: Sequence[str],
        transformers: Sequence[str],
        now: datetime,
    ) -> tuple[int, int]:
        """Makes the incident's ties reflect the match: the newly matched are tied (again),
        those left out released; both are marked unplanned. Returns (gained, lost)."""
        target = set(
            self.matched(session, area=area, feeders=feeders, transformers=transformers).tolist()
        )
        tied = session.execute(
            select(IncidentCustomer.customer_pk, IncidentCustomer.affected).where(
                IncidentCustomer.incident_id == incident_id
            )
        )
        ties: dict[int, bool] = {pk: affected for pk, affected in tied}  # noqa: C416
        current = {pk for pk, affected in ties.items() if affected}
        gained, lost = sorted(target - current), sorted(current - target)
        fresh = [pk for pk in gained if pk not in ties]
        returning = [pk for pk in gained if pk in ties]
        insert = upsert_insert(session)
        rows = [
            {"incident_id": incident_id, "customer_pk": pk, "affected": True, "since": now}
            for pk in fresh
        ]
        for start in range(0, len(rows), CHUNK):
            session.execute(insert(IncidentCustomer), rows[start : start + CHUNK])
        _set(session, incident_id, returning, {"affected": True, "since": now, "released_at": None})
        _set(session, incident_id, lost, {"affected": False, "released_at": now})
        return len(gained), len(lost)


def _set(session: Session, incident_id: str, pks: list[int], values: dict[str, Any]) -> None:
    for start in range(0, len(pks), CHUNK):
        session.execute(
            update(IncidentCustomer)
            .where(
                IncidentCustomer.incident_id == incident_id,
                IncidentCustomer.customer_pk.in_(pks[start : start + CHUNK]),
            )
            .values(planned_version=None, **values)
            .execution_options(synchronize_session=False)
        )
