"""The in-memory customer index of this process, reloaded when the customers' revision moves.

Every change to customers bumps a revision in the database (same transaction), so a process
notices an import made by another process (the CLI, another API worker) on its next match.
"""

from __future__ import annotations

import threading

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from outage_notify.db import meta
from outage_notify.db.models import Customer
from outage_notify.matching.spatial import CustomerIndex


class CustomerIndexCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._revision: str | None = None
        self._index: CustomerIndex | None = None

    def get(self, session: Session) -> CustomerIndex:
        revision = meta.customers_revision(session)
        with self._lock:
            if self._index is None or revision != self._revision:
                self._index = load_index(session)
                self._revision = revision
            return self._index

    def invalidate(self) -> None:
        with self._lock:
            self._index, self._revision = None, None


def load_index(session: Session) -> CustomerIndex:
    """Reads every customer's point straight off the driver's cursor: building a Row object
    for each of millions of customers would cost more than the index itself."""
    query = select(Customer.id, Customer.lon, Customer.lat, Customer.feeder, Customer.transformer)
    compiled = query.compile(session.get_bind())
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(str(compiled))
        rows = cursor.fetchall()
    finally:
        cursor.close()
    if not rows:
        empty = np.empty(0)
        return CustomerIndex(pks=empty, lon=empty, lat=empty, feeders=[], transformers=[])
    pks, lon, lat, feeders, transformers = zip(*rows, strict=True)
    return CustomerIndex(
        pks=np.fromiter(pks, dtype=np.int64, count=len(rows)),
        lon=np.fromiter(lon, dtype=np.float64, count=len(rows)),
        lat=np.fromiter(lat, dtype=np.float64, count=len(rows)),
        feeders=list(feeders),
        transformers=list(transformers),
    )
