"""Matching back ends to run the same cases against: the in-memory index on SQLite, and PostGIS
on a database of the session's PostgreSQL cluster (tests/backends.py). The PostGIS cases run
with --backend=postgresql and are skipped with --backend=sqlite: `make test` runs both."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from outage_notify.db import meta
from outage_notify.db.engine import make_engine
from outage_notify.db.models import Customer, Incident
from outage_notify.matching.matcher import Matcher, MemoryMatcher, PostgisMatcher
from outage_notify.matching.spatial import CustomerIndex
from tests.backends import Backend as TestBackend

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
# Everything a test writes, emptied before each test on the shared PostgreSQL database.
TABLES = ("incident_customers", "incidents", "customers", "app_meta")


@pytest.fixture(scope="session")
def postgis_url(backend: TestBackend) -> Iterator[str]:
    """One database at head for every PostGIS case (each empties it first)."""
    if backend.name != "postgresql":
        pytest.skip("PostGIS cases run with --backend=postgresql")
    url = backend.create(like=backend.schema_url())
    yield url
    backend.drop(url)


@pytest.fixture(scope="session")
def postgis_engine(postgis_url: str) -> Iterator[Engine]:
    engine = make_engine(postgis_url)
    yield engine
    engine.dispose()


@dataclass
class Backend:
    """A database with its matcher; `add` writes customers as an import would (revision
    bumped), `index` is the in-memory index of what was added: the reference."""

    name: str
    engine: Engine
    matcher: Matcher
    added: list[dict[str, Any]] = field(default_factory=list)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def reset(self) -> None:
        self.added = []
        with self.engine.begin() as connection:
            if self.engine.dialect.name == "postgresql":
                connection.execute(
                    sa.text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
                )
            else:
                for table in TABLES:
                    connection.execute(sa.text(f"DELETE FROM {table}"))

    def add(
        self,
        points: Sequence[tuple[float, float]],
        feeders: Sequence[str | None] | None = None,
        transformers: Sequence[str | None] | None = None,
    ) -> list[int]:
        """Customers at (lon, lat) points; returns their primary keys in order."""
        start = len(self.added) + 1
        rows = [
            {
                "id": start + i,
                "customer_id": f"C{start + i}",
                "language": "fi",
                "lon": float(lon),
                "lat": float(lat),
                "feeder": feeders[i] if feeders else None,
                "transformer": transformers[i] if transformers else None,
                "created_at": T0,
                "updated_at": T0,
            }
            for i, (lon, lat) in enumerate(points)
        ]
        with self.session() as session, session.begin():
            if rows:
                session.execute(sa.insert(Customer), rows)
            meta.bump_customers_revision(session)
        self.added.extend(rows)
        return list(range(start, start + len(rows)))

    def index(self) -> CustomerIndex:
        rows = self.added
        return CustomerIndex(
            pks=np.array([r["id"] for r in rows], dtype=np.int64),
            lon=np.array([r["lon"] for r in rows], dtype=np.float64),
            lat=np.array([r["lat"] for r in rows], dtype=np.float64),
            feeders=[r["feeder"] for r in rows],
            transformers=[r["transformer"] for r in rows],
        )

    def add_incident(self, incident_id: str = "inc_1") -> str:
        with self.session() as session, session.begin():
            session.add(
                Incident(
                    id=incident_id,
                    source="api",
                    external_id=incident_id,
                    kind="outage",
                    status="active",
                    feeders=[],
                    transformers=[],
                    started_at=T0,
                    version=1,
                    affected_count=0,
                    created_at=T0,
                    updated_at=T0,
                )
            )
        return incident_id


@pytest.fixture(params=["memory", "postgis"])
def side(request: pytest.FixtureRequest, database_url: str) -> Iterator[Backend]:
    """Each matcher on its own back end: in memory on SQLite, PostGIS on PostgreSQL."""
    if request.param == "memory":
        engine = make_engine(database_url)
        found = Backend("memory", engine, MemoryMatcher())
        yield found
        engine.dispose()
        return
    found = Backend("postgis", request.getfixturevalue("postgis_engine"), PostgisMatcher())
    found.reset()
    yield found


@pytest.fixture
def postgis_backend(postgis_engine: Engine) -> Backend:
    found = Backend("postgis", postgis_engine, PostgisMatcher())
    found.reset()
    return found
