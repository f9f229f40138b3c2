"""The in-memory customer index of this process, reloaded when the customers' revision moves.

Every change to customers bumps a revision in the database (same transaction), so a process
notices an import made by another process (the CLI, another API worker) on its next match.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import CompilerElement

from outage_notify.db import meta
from outage_notify.db.models import Customer
from outage_notify.matching.spatial import CustomerIndex
from outage_notify.matching.territory import cell_counts

FETCH_BATCH = 50_000


class CustomerIndexCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._revision: str | None = None
        self._index: CustomerIndex | None = None
        self._cells: tuple[str, np.ndarray] | None = None

    def get(self, session: Session) -> CustomerIndex:
        revision = meta.customers_revision(session)
        with self._lock:
            if self._index is None or revision != self._revision:
                self._index = load_index(session)
                self._revision = revision
            return self._index

    def cell_counts(self, session: Session) -> np.ndarray:
        """Customers per territory cell (matching/territory.py) at the database's revision:
        kept from this process's own last change, or counted from its index when that is
        current, or from the points alone (a reload of the index would cost seconds for
        millions of customers); on PostgreSQL, counted by the database."""
        revision = meta.customers_revision(session)
        with self._lock:
            if self._cells is not None and self._cells[0] == revision:
                return self._cells[1]
            index = self._index if self._revision == revision else None
        if index is not None:
            counts = cell_counts(index.lon, index.lat)
        elif session.get_bind().dialect.name == "postgresql":
            from outage_notify.matching import postgis  # GeoAlchemy2 only where it is used

            counts = postgis.cell_counts(session)  # counted by the database, not read out
        else:
            counts = cell_counts(*load_points(session))
        self.remember_cells(session, counts)
        return counts

    def remember_cells(self, session: Session, counts: np.ndarray) -> None:
        """Keeps the counts after this process's own change, under the revision that change
        made (uncommitted yet: if it rolls back, that revision is never seen again). A change
        another process commits meanwhile is missed until the revision moves again: these
        counts only decide which imported rows are reported as strays."""
        revision = meta.customers_revision(session)
        with self._lock:
            self._cells = (revision, counts)

    def invalidate(self) -> None:
        with self._lock:
            self._index, self._revision, self._cells = None, None, None


def load_points(session: Session) -> tuple[np.ndarray, np.ndarray]:
    """Every customer's (lon, lat), and nothing else, straight off the driver's cursor."""
    rows = _fetch_all(session, select(Customer.lon, Customer.lat))
    points = np.array(rows, dtype=np.float64).reshape(-1, 2)
    return points[:, 0].copy(), points[:, 1].copy()


def load_index(session: Session) -> CustomerIndex:
    """Reads every customer's point straight off the driver's cursor, a batch at a time into
    arrays: building a Row object for each of millions of customers, or holding them all at
    once, would cost more than the index itself."""
    query = select(Customer.id, Customer.lon, Customer.lat, Customer.feeder, Customer.transformer)
    pks: list[np.ndarray] = []
    lon: list[np.ndarray] = []
    lat: list[np.ndarray] = []
    feeders: list[str | None] = []
    transformers: list[str | None] = []
    for rows in _fetch_batches(session, query):
        ids, xs, ys, fs, ts = zip(*rows, strict=True)
        pks.append(np.fromiter(ids, dtype=np.int64, count=len(rows)))
        lon.append(np.fromiter(xs, dtype=np.float64, count=len(rows)))
        lat.append(np.fromiter(ys, dtype=np.float64, count=len(rows)))
        feeders.extend(fs)
        transformers.extend(ts)
    return CustomerIndex(
        pks=_joined(pks, np.int64),
        lon=_joined(lon, np.float64),
        lat=_joined(lat, np.float64),
        feeders=feeders,
        transformers=transformers,
    )


def _joined(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


def _fetch_batches(session: Session, query: CompilerElement) -> Iterator[Sequence[Any]]:
    size = FETCH_BATCH
    compiled = query.compile(session.get_bind())
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(str(compiled))
        while rows := cursor.fetchmany(size):
            yield rows
    finally:
        cursor.close()


def _fetch_all(session: Session, query: CompilerElement) -> Sequence[Any]:
    compiled = query.compile(session.get_bind())
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(str(compiled))
        return cursor.fetchall()
    finally:
        cursor.close()
