"""Matching in PostgreSQL + PostGIS agrees exactly with the in-memory index (the reference,
checked against shapely in test_spatial.py), and runs as the database should run it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import shapely
import sqlalchemy as sa
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from outage_notify.matching import postgis
from outage_notify.matching.spatial import PIECE_VERTICES
from outage_notify.matching.territory import derive
from tests.matching.conftest import Backend
from tests.matching.test_spatial import BIG_AREAS, points_around

AGREE = settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def ids(
    side: Backend,
    area: BaseGeometry | None,
    feeders: Sequence[str] = (),
    transformers: Sequence[str] = (),
) -> list[int]:
    with side.session() as session:
        query = postgis.matching_customers(area, feeders, transformers)
        found = list(session.scalars(query))
    assert len(found) == len(set(found)), "a customer matched twice"
    return sorted(found)


# ---- random areas whose every vertex is exact, so both sides test the very same shape ----------

coordinate = st.integers(0, 10)


@st.composite
def boxes(draw: Any) -> BaseGeometry:
    """Unions of integer boxes less other boxes: holes, several parts, parts touching."""

    def box() -> BaseGeometry:
        x0, x1 = sorted(draw(st.lists(coordinate, min_size=2, max_size=2, unique=True)))
        y0, y1 = sorted(draw(st.lists(coordinate, min_size=2, max_size=2, unique=True)))
        return shapely.box(x0, y0, x1, y1)

    kept = shapely.union_all([box() for _ in range(draw(st.integers(1, 4)))])
    cut = shapely.union_all([box() for _ in range(draw(st.integers(0, 2)))])
    return kept.difference(cut) if not cut.is_empty else kept


@st.composite
def hulls(draw: Any) -> BaseGeometry:
    """Convex polygons with slanted edges (integer vertices), one per 12-unit slot so they
    never cross, each perhaps with a box hole inside it."""
    parts = []
    for slot in range(draw(st.integers(1, 3))):
        corners = draw(st.lists(st.tuples(coordinate, coordinate), min_size=3, max_size=8))
        hull = shapely.convex_hull(shapely.multipoints(corners))
        if not isinstance(hull, Polygon) or hull.area == 0:
            continue
        hole = shapely.box(
            *draw(st.tuples(coordinate, coordinate)), *draw(st.tuples(coordinate, coordinate))
        )
        if hole.area > 0 and hull.contains(hole) and draw(st.booleans()):
            hull = hull.difference(hole)
        parts.append(shapely.affinity.translate(hull, xoff=12 * slot))
    assume(parts)
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


# Half-integer lattice points: on vertices, on edges (slanted ones too), inside, outside.
lattice = st.tuples(st.integers(-2, 72), st.integers(-2, 22)).map(lambda p: (p[0] / 2, p[1] / 2))


@given(area=st.one_of(boxes(), hulls()), points=st.lists(lattice, min_size=1, max_size=60))
@AGREE
def test_random_areas_and_points_match_exactly_as_in_memory(
    postgis_backend: Backend, area: BaseGeometry, points: list[tuple[float, float]]
) -> None:
    assume(not area.is_empty)
    postgis_backend.reset()
    postgis_backend.add(points)
    assert ids(postgis_backend, area) == postgis_backend.index().within(area).tolist()


@st.composite
def spiky(draw: Any) -> Polygon:
    """A star-shaped polygon of 300 to 800 vertices at random radii: cut in pieces."""
    count = draw(st.integers(300, 800))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    angles = np.sort(rng.uniform(0, 2 * np.pi, count))
    radius = rng.uniform(0.2, 1.0, count)
    return Polygon(np.column_stack([radius * np.cos(angles), radius * np.sin(angles)]))


@given(area=spiky(), seed=st.integers(0, 2**32 - 1))
@settings(AGREE, max_examples=15)
def test_areas_cut_in_pieces_match_exactly_as_in_memory(
    postgis_backend: Backend, area: Polygon, seed: int
) -> None:
    assume(area.is_valid and shapely.get_num_coordinates(area) > PIECE_VERTICES)
    rng = np.random.default_rng(seed)
    postgis_backend.reset()
    postgis_backend.add(list(zip(rng.uniform(-1, 1, 400), rng.uniform(-1, 1, 400), strict=True)))
    # Boundary points too: the area's own vertices.
    postgis_backend.add([tuple(xy) for xy in shapely.get_coordinates(area)[:50]])
    assert ids(postgis_backend, area) == postgis_backend.index().within(area).tolist()


# ---- as SQL ---------------------------------------------------------------------------------------


def test_matching_customers_feeds_an_insert_select(postgis_backend: Backend) -> None:
    pks = postgis_backend.add([(0.5, 0.5), (1.5, 1.5), (9, 9)], feeders=[None, "F", "F"])
    area = shapely.box(0, 0, 2, 2)
    with postgis_backend.session() as session, session.begin():
        session.execute(sa.text("CREATE TEMP TABLE picked (pk integer PRIMARY KEY)"))
        picked = sa.table("picked", sa.column("pk"))
        select = postgis.matching_customers(area, ["F"], [])
        session.execute(sa.insert(picked).from_select(["pk"], select))
        assert sorted(session.scalars(sa.text("SELECT pk FROM picked"))) == pks


def test_an_area_is_matched_through_the_gist_index(postgis_backend: Backend) -> None:
    rng = np.random.default_rng(1)
    postgis_backend.add(
        list(zip(rng.uniform(20, 30, 5000), rng.uniform(55, 65, 5000), strict=True))
    )
    small = shapely.box(24, 60, 24.1, 60.1)
    big = Polygon([(20 + i / 100, 60 + np.sin(i) / 10) for i in range(300)] + [(20, 55)])
    with postgis_backend.session() as session:
        session.execute(sa.text("ANALYZE customers"))
        for area in (small, big.buffer(0)):
            query = sa.select(sa.func.count()).select_from(
                postgis.matching_customers(area).subquery()
            )
            compiled = query.compile(session.get_bind())
            explain = session.connection().exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
            assert "ix_customers_geom" in "\n".join(explain.scalars())


def test_count_within_a_derived_core_as_in_memory(postgis_backend: Backend) -> None:
    """The core of a derived territory (cells) against points around and on cell edges."""
    rng = np.random.default_rng(3)
    town = list(zip(25 + rng.normal(0, 0.4, 800), 60 + rng.normal(0, 0.3, 800), strict=True))
    far = list(zip(rng.uniform(27, 28, 30), rng.uniform(62, 63, 30), strict=True))
    edges = [(24.25, 60.0), (25.0, 60.25), (26.0, 61.0)]
    postgis_backend.add(town + far + edges)
    index = postgis_backend.index()
    territory = derive(index.lon, index.lat).territory
    assert territory is not None
    with postgis_backend.session() as session:
        for area in (shapely.box(24, 59.5, 28, 63), shapely.box(24.25, 60, 25, 60.25)):
            expected = index.count_within(area, among=territory)
            assert postgis.count_within(session, area, among=territory) == expected
            assert postgis.count_within(session, area) == index.count_within(area)


@pytest.mark.parametrize("name", list(BIG_AREAS))
def test_big_areas_match_exactly_as_in_memory(postgis_backend: Backend, name: str) -> None:
    area = BIG_AREAS[name]
    postgis_backend.add(points_around(area, 5000, seed=len(name)))
    expected = postgis_backend.index().within(area).tolist()
    assert ids(postgis_backend, area) == expected
    with postgis_backend.session() as session:
        assert postgis.count_matching(session, area) == len(expected)


def test_a_point_where_two_parts_touch_is_matched_once(postgis_backend: Backend) -> None:
    area = MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(1, 1, 2, 2)])
    pks = postgis_backend.add([(1, 1), (0.5, 0.5), (1.5, 1.5), (0.5, 1.5)])
    assert ids(postgis_backend, area) == pks[:3]  # ids() also refuses a customer twice
    with postgis_backend.session() as session:
        assert postgis.count_matching(session, area) == 3
