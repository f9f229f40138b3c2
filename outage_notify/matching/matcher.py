"""One matching interface, two back ends: in memory (SQLite, the embedded default) and in
PostgreSQL + PostGIS (at scale). Callers hold a Matcher and never ask which one it is.

Areas are shapely geometries, as parse_area returns them (valid WGS 84 (Multi)Polygons).
Feeder and transformer ids match beside the area; a point on the area's boundary is inside.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

import numpy as np
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from outage_notify.db import meta
from outage_notify.matching import postgis
from outage_notify.matching.index_cache import CustomerIndexCache
from outage_notify.matching.postgis import TieMoves
from outage_notify.matching.territory import DerivedTerritory, Territory, derive_from_counts
from outage_notify.matching.ties import move_ties_in_memory


class Matcher(Protocol):
    def warm(self, session: Session) -> None:
        """Loads what matching keeps in memory, in a read-only session, so that a reload never
        happens inside a write transaction (on SQLite it would hold every other writer up)."""
        ...

    def count(
        self,
        session: Session,
        area: BaseGeometry | None,
        feeders: Iterable[str] = (),
        transformers: Iterable[str] = (),
    ) -> int:
        """How many customers an incident of this area and grid ids touches."""
        ...

    def count_within(
        self, session: Session, area: BaseGeometry, among: Territory | None = None
    ) -> int:
        """How many customers are inside the area; with `among`, only those in its core."""
        ...

    def cell_counts(self, session: Session) -> np.ndarray:
        """Customers per cell of the territory grid (territory.cell_counts)."""
        ...

    def derived_territory(self, session: Session) -> DerivedTerritory:
        """The territory the customers make, at the database's customers revision."""
        ...

    def move_ties(
        self,
        session: Session,
        *,
        incident_id: str,
        area: BaseGeometry | None,
        feeders: Iterable[str] = (),
        transformers: Iterable[str] = (),
        now: datetime,
    ) -> TieMoves:
        """Makes the incident's ties follow its match (postgis.move_ties); (gained, lost)."""
        ...

    def head_start(
        self,
        session: Session,
        *,
        incident_id: str,
        area: BaseGeometry | None,
        feeders: Iterable[str] = (),
        transformers: Iterable[str] = (),
        now: datetime,
        limit: int,
    ) -> int | None:
        """Ties a new incident's first `limit` customers (postgis.head_start) and returns how
        many; None where the whole match is quick anyway and move_ties does it at once."""
        ...


class MemoryMatcher:
    """Matches against this process's in-memory index, reloaded when the customers' revision
    moves (index_cache.py)."""

    def __init__(self, cache: CustomerIndexCache | None = None) -> None:
        self.cache = cache if cache is not None else CustomerIndexCache()

    def warm(self, session: Session) -> None:
        self.cache.get(session)

    def count(
        self,
        session: Session,
        area: BaseGeometry | None,
        feeders: Iterable[str] = (),
        transformers: Iterable[str] = (),
    ) -> int:
        return len(self.cache.get(session).match(area, feeders, transformers))

    def count_within(
        self, session: Session, area: BaseGeometry, among: Territory | None = None
    ) -> int:
        return self.cache.get(session).count_within(area, among=among)

    def cell_counts(self, session: Session) -> np.ndarray:
        return self.cache.cell_counts(session)

    def derived_territory(self, session: Session) -> DerivedTerritory:
        return self.cache.get(session).derived_territory

    def move_ties(
        self,
        session: Session,
        *,
        incident_id: str,
        area: BaseGeometry | None,
        feeders: Iterable[str] = (),
        transformers: Iterable[str] = (),
        now: datetime,
    ) -> TieMoves:
        matched = self.cache.get(session).match(area, feeders, transformers)
        return move_ties_in_memory(session, incident_id=incident_id, matched_pks=matched, now=now)

    def head_start(
        self,
        session: Session,
        *,
        incident_id: str,
        area: BaseGeometry | None,
        feeders: Iterable[str] = (),
        transformers: Iterable[str] = (),
        now: datetime,
        limit: int,
    ) -> int | None:
        return None  # matching in memory takes milliseconds: move_ties does it all at once


class PostgisMatcher:
    """Matches in the database (postgis.py). Holds nothing per customer: only the derived
    territory (a few geometries), kept per customers revision."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._territory: tuple[str, DerivedTerritory] | None = None

    def warm(self, session: Session) -> None:
        self.derived_territory(session)

    def count(
        self,
        session: Session,
        area: BaseGeometry | None,
        feeders: Iterable[str] = (),
        transformers: Iterable[str] = (),
    ) -> int:
        return postgis.count_matching(session, area, feeders, transformers)

    def count_within(
        self, session: Session, area: BaseGeometry, among: Territory | None = None
    ) -> int:
        return postgis.count_within(session, area, among=among)

    def cell_counts(self, session: Session) -> np.ndarray:
        return postgis.cell_counts(session)

    def derived_territory(self, session: Session) -> DerivedTerritory:
        revision = meta.customers_revision(session)
        with self._lock:
            if self._territory is not None and self._territory[0] == revision:
                return self._territory[1]
        derived = derive_from_counts(postgis.cell_counts(session))
        with self._lock:
            self._territory = (revision, derived)
        return derived

    def move_ties(
        self,
        session: Session,
        *,
        incident_id: str,
        area: BaseGeometry | None,
        feeders: Iterable[str] = (),
        transformers: Iterable[str] = (),
        now: datetime,
    ) -> TieMoves:
        return postgis.move_ties(
            session,
            incident_id=incident_id,
            area=area,
            feeders=feeders,
            transformers=transformers,
            now=now,
        )

    def head_start(
        self,
        session: Session,
        *,
        incident_id: str,
        area: BaseGeometry | None,
        feeders: Iterable[str] = (),
        transformers: Iterable[str] = (),
        now: datetime,
        limit: int,
    ) -> int | None:
        return postgis.head_start(
            session,
            incident_id=incident_id,
            area=area,
            feeders=feeders,
            transformers=transformers,
            now=now,
            limit=limit,
        )


def matcher_for(dialect_name: str, cache: CustomerIndexCache | None = None) -> Matcher:
    """PostGIS on PostgreSQL, the in-memory index elsewhere (SQLite)."""
    if dialect_name == "postgresql":
        return PostgisMatcher()
    return MemoryMatcher(cache)
