"""bench/data.py writes the synthetic customers that the service then reads as its own."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from bench import data
from outage_notify.db import meta
from outage_notify.db.models import Customer
from outage_notify.matching import postgis
from outage_notify.matching.index_cache import load_index
from tests.matching.conftest import Backend


def test_the_same_count_and_seed_give_the_same_customers() -> None:
    one, two = data.build(2000), data.build(2000)
    assert np.array_equal(one.lon, two.lon) and one.feeders == two.feeders
    assert not np.array_equal(one.lon, data.build(2000, seed=data.SEED + 1).lon)
    # Helsinki region, WGS 84.
    assert one.lon.min() > 24.4 and one.lon.max() < 25.4
    assert one.lat.min() > 60.0 and one.lat.max() < 60.5


@pytest.mark.sqlite_only(reason="writes the SQLite database file; PostgreSQL has its own test")
def test_written_into_sqlite_as_the_service_reads_customers(database_url: str) -> None:
    town = data.build(3000)
    data.write_sqlite(database_url, town)
    engine = sa.create_engine(database_url)
    with Session(engine) as session:
        index = load_index(session)
        first = session.scalars(sa.select(Customer).order_by(Customer.id).limit(1)).one()
        assert meta.customers_revision(session) != "empty"
    engine.dispose()
    order = np.argsort(index.pks)  # the index keeps points sorted by longitude
    assert np.array_equal(index.lon[order], town.lon)
    assert np.array_equal(index.lat[order], town.lat)
    feeder = town.feeders[0]
    on_it = [i + 1 for i, f in enumerate(town.feeders) if f == feeder]
    assert index.on_grid([feeder], []).tolist() == on_it
    assert first.customer_id == "SYN-0000001" and first.created_at == data.NOW


def test_written_into_postgresql_with_points_and_gist_index(postgis_backend: Backend) -> None:
    town = data.build(3000)
    url = postgis_backend.engine.url.render_as_string(hide_password=False)
    data.write_postgres(url, town)
    with postgis_backend.session() as session:
        index = load_index(session)
        indexes = session.scalars(
            sa.text("SELECT indexname FROM pg_indexes WHERE tablename = 'customers'")
        ).all()
        bounds = shapely.box(town.lon.min(), town.lat.min(), town.lon.max(), town.lat.max())
        everywhere = postgis.count_matching(session, bounds)
    order = np.argsort(index.pks)  # a table scan's order is the heap's, not the ids'
    assert np.array_equal(index.pks[order], np.arange(1, len(town) + 1))
    assert np.array_equal(index.lon[order], town.lon)
    assert np.array_equal(index.lat[order], town.lat)
    assert "ix_customers_geom" in indexes
    assert everywhere == len(town)
