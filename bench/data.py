"""Synthetic customers at scale, written fast: the Helsinki region's YKR grid (cell centroids,
replicated by a weight per cell and jittered inside their 250 m cell: bench/town.py) as
`customers` rows, into SQLite (one executemany of tuples) or PostgreSQL (COPY).

Deterministic: the same count and seed give the same customers, ids and contacts. Rows carry
what matching and planning read (point, grid ids, language, channels, phone, email); names and
addresses are left empty, as nothing measured here reads them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bench import town as towns
from outage_notify.db import meta

SEED = towns.SEED
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
COLUMNS = (
    "customer_id", "language", "lat", "lon", "phone", "email", "channels",
    "feeder", "transformer", "created_at", "updated_at",
)  # fmt: skip
# The GiST index of migration 0004, rebuilt once after a bulk load rather than grown per row.
GIST = "CREATE INDEX ix_customers_geom ON customers USING gist (geom)"


def build(count: int, seed: int = SEED) -> towns.Town:
    """`count` customer points, YKR cells weighted by their transit time to the centre."""
    return towns.synthetic_town(count, seed=seed)


def rows(town: towns.Town, *, now: Any, seed: int = SEED) -> Iterator[tuple[Any, ...]]:
    """The town as tuples of COLUMNS; `now` as the driver wants the timestamps."""
    people = towns.profiles(len(town), seed=seed)
    phone, email = people.has_phone.tolist(), people.has_email.tolist()
    lon, lat = town.lon.tolist(), town.lat.tolist()
    for i in range(len(town)):
        yield (
            f"SYN-{i + 1:07d}",
            people.language[i],
            lat[i],
            lon[i],
            f"+35840{1_000_000 + i:07d}" if phone[i] else None,
            f"customer{i + 1}@example.net" if email[i] else None,
            people.channels[i],
            town.feeders[i],
            town.transformers[i],
            now,
            now,
        )


def write_sqlite(url: str, town: towns.Town) -> None:
    """Into a migrated SQLite database (url sqlite:///path), in one transaction."""
    path = sa.make_url(url).database
    assert path, url
    # SQLAlchemy's SQLite DateTime text format, naive UTC (db/types.py).
    stamp = NOW.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    placeholders = ", ".join("?" * len(COLUMNS))
    with sqlite3.connect(path) as connection:
        connection.executemany(
            f"INSERT INTO customers ({', '.join(COLUMNS)}) VALUES ({placeholders})",
            rows(town, now=stamp),
        )
    _bump_revision(url)


def write_postgres(url: str, town: towns.Town) -> None:
    """Into a migrated PostgreSQL database by COPY, the GiST index rebuilt after, analysed."""
    import psycopg  # only where PostgreSQL is written

    conninfo = sa.make_url(url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(conninfo) as connection:
        connection.execute("DROP INDEX IF EXISTS ix_customers_geom")
        with connection.cursor() as cursor:
            statement = f"COPY customers ({', '.join(COLUMNS)}) FROM STDIN"
            with cursor.copy(statement) as copy:
                for row in rows(town, now=NOW):
                    copy.write_row(row)
        connection.execute(GIST)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE customers")
    _bump_revision(url)


def _bump_revision(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with Session(engine) as session, session.begin():
            meta.bump_customers_revision(session)
    finally:
        engine.dispose()
