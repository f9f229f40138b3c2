"""The same cases against both matchers: the in-memory index on SQLite and PostGIS on
PostgreSQL. The reference is CustomerIndex over the same points (tests/matching/test_spatial.py
checks it against shapely)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import shapely
import sqlalchemy as sa
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from outage_notify.db.models import IncidentCustomer
from outage_notify.matching.index_cache import CustomerIndexCache
from outage_notify.matching.matcher import MemoryMatcher, PostgisMatcher, matcher_for
from outage_notify.matching.postgis import TieMoves
from outage_notify.matching.territory import Territory, cell_counts, derive
from tests.matching.conftest import T0, Backend

SQUARE = shapely.box(0.0, 0.0, 2.0, 2.0)
ON_OR_IN = [(1.0, 1.0), (0.0, 0.0), (2.0, 2.0), (1.0, 0.0), (2.0, 1.5), (0.0, 2.0)]
OUTSIDE = [(2.000001, 1.0), (-0.000001, 1.0), (3.0, 3.0), (1.0, -1e-12)]
INCIDENT_NUMBERS = itertools.count()


def affected(side: Backend, incident_id: str) -> list[int]:
    with side.session() as session:
        query = sa.select(IncidentCustomer.customer_pk).where(
            IncidentCustomer.incident_id == incident_id, IncidentCustomer.affected
        )
        return sorted(session.scalars(query))


def tie_rows(side: Backend, incident_id: str) -> dict[int, IncidentCustomer]:
    with side.session() as session:
        query = sa.select(IncidentCustomer).where(IncidentCustomer.incident_id == incident_id)
        return {tie.customer_pk: tie for tie in session.scalars(query)}


def move(
    side: Backend,
    incident_id: str,
    area: BaseGeometry | None,
    feeders: Sequence[str] = (),
    transformers: Sequence[str] = (),
    now: datetime = T0,
) -> TieMoves:
    with side.session() as session, session.begin():
        return side.matcher.move_ties(
            session,
            incident_id=incident_id,
            area=area,
            feeders=feeders,
            transformers=transformers,
            now=now,
        )


def matched(
    side: Backend,
    area: BaseGeometry | None,
    feeders: Sequence[str] = (),
    transformers: Sequence[str] = (),
) -> list[int]:
    """The matcher's set, read back from the ties of a fresh incident, and its count agreeing."""
    incident_id = side.add_incident(f"inc_{next(INCIDENT_NUMBERS)}")
    move(side, incident_id, area, feeders, transformers)
    found = affected(side, incident_id)
    with side.session() as session:
        assert side.matcher.count(session, area, feeders, transformers) == len(found)
    return found


# ---- geometry ------------------------------------------------------------------------------------


def test_boundary_points_count_as_inside(side: Backend) -> None:
    inside = side.add(ON_OR_IN)
    side.add(OUTSIDE)
    assert matched(side, SQUARE) == inside


def test_holes_exclude_their_inside_but_not_their_boundary(side: Backend) -> None:
    ring = Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], holes=[[(3, 3), (7, 3), (7, 7), (3, 7)]])
    kept = side.add([(1, 1), (3, 3), (5, 3), (7, 5), (10, 10)])  # shell, hole's boundary
    side.add([(5, 5), (4, 6), (6.999, 3.001), (11, 5)])  # in the hole, or outside
    assert matched(side, ring) == kept


def test_multipolygon_matches_each_part(side: Backend) -> None:
    area = MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(5, 5, 6, 6)])
    kept = side.add([(0.5, 0.5), (1, 1), (5, 5), (6, 5.5)])
    side.add([(3, 3), (1.5, 0.5), (6.5, 6)])
    assert matched(side, area) == kept


def test_feeders_and_transformers_match_beside_the_area(side: Backend) -> None:
    pks = side.add(
        [(0.5, 0.5), (50, 50), (51, 51), (52, 52), (53, 53)],
        feeders=["F1", "F1", "F2", None, "F3"],
        transformers=[None, "T1", None, "T9", "T3"],
    )
    assert matched(side, None, feeders=["F1"]) == [pks[0], pks[1]]
    assert matched(side, None, transformers=["T9", "T-unknown"]) == [pks[3]]
    # Inside the area and on a listed feeder: counted once.
    assert matched(side, SQUARE, feeders=["F1", "F2"]) == pks[:3]
    assert matched(side, None, feeders=["F2"], transformers=["T3"]) == [pks[2], pks[4]]
    assert matched(side, None) == []


def star(vertices: int, *, inner: float = 0.3, outer: float = 1.0) -> Polygon:
    """A star of vertices/2 spikes around (25, 60): thousands of edges, so it is cut in pieces."""
    angles = np.linspace(0.0, 2 * math.pi, vertices, endpoint=False)
    radius = np.where(np.arange(vertices) % 2 == 0, outer, inner)
    return Polygon(np.column_stack([25 + radius * np.cos(angles), 60 + radius * np.sin(angles)]))


def test_a_ten_thousand_vertex_star_matches_as_the_index_does(side: Backend) -> None:
    area = star(10_000)
    rng = np.random.default_rng(9)
    lon = 25 + rng.uniform(-1.05, 1.05, 20_000)
    lat = 60 + rng.uniform(-1.05, 1.05, 20_000)
    side.add(list(zip(lon, lat, strict=True)))
    expected = side.index().within(area).tolist()
    assert 500 < len(expected) < 19_000  # spikes and gaps both hold points
    assert matched(side, area) == expected


# ---- counting within a territory's core ---------------------------------------------------------


def test_count_within_among_a_territory_counts_only_its_core(side: Backend) -> None:
    side.add([(0.5, 0.5), (1.5, 0.5), (2.5, 0.5), (3.5, 0.5), (2, 0.5)])
    core = shapely.box(0, 0, 2, 1)  # its edge at lon 2 counts as inside
    territory = Territory(area=shapely.box(0, 0, 4, 1), core=core)
    area = shapely.box(1, 0, 4, 1)
    with side.session() as session:
        assert side.matcher.count_within(session, area) == 4
        assert side.matcher.count_within(session, area, territory) == 2
        far = shapely.box(40, 40, 41, 41)
        assert side.matcher.count_within(session, far, territory) == 0


# ---- the territory grid ----------------------------------------------------------------------------


def test_cell_counts_are_territory_cell_counts(side: Backend) -> None:
    rng = np.random.default_rng(4)
    edges = [(-180, -90), (180, 90), (179.99, 89.99), (0, 0), (-0.25, -0.25), (24.75, 60.25)]
    spread = list(zip(rng.uniform(-180, 180, 300), rng.uniform(-90, 90, 300), strict=True))
    town = list(zip(25 + rng.normal(0, 0.3, 500), 60 + rng.normal(0, 0.2, 500), strict=True))
    side.add(edges + spread + town)
    index = side.index()
    with side.session() as session:
        counts = side.matcher.cell_counts(session)
        derived = side.matcher.derived_territory(session)
    assert np.array_equal(counts, cell_counts(index.lon, index.lat))
    expected = derive(index.lon, index.lat)
    assert derived.territory is not None and expected.territory is not None
    assert derived.territory.core.equals(expected.territory.core)
    assert np.array_equal(derived.stray_cells, expected.stray_cells)


def test_cell_counts_of_no_customers_are_zero(side: Backend) -> None:
    with side.session() as session:
        assert not side.matcher.cell_counts(session).any()
        assert side.matcher.derived_territory(session).territory is None


# ---- moving ties ----------------------------------------------------------------------------------


def test_ties_grow_shrink_and_release(side: Backend) -> None:
    pks = side.add([(0.5, 0.5), (1.5, 0.5), (2.5, 0.5), (3.5, 0.5)], feeders=[None] * 3 + ["F"])
    incident = side.add_incident()
    assert move(side, incident, shapely.box(0, 0, 1, 1)) == (1, 0)
    # Grows: the one already tied stays untouched (its since, its planned version).
    with side.session() as session, session.begin():
        session.execute(sa.update(IncidentCustomer).values(planned_version=1, told_version=1))
    later = T0 + timedelta(minutes=5)
    assert move(side, incident, shapely.box(0, 0, 2, 1), now=later) == (1, 0)
    ties = tie_rows(side, incident)
    assert ties[pks[0]].since == T0 and ties[pks[0]].planned_version == 1
    assert ties[pks[1]].since == later and ties[pks[1]].planned_version is None
    assert affected(side, incident) == pks[:2]
    # Same match again: nothing moves.
    assert move(side, incident, shapely.box(0, 0, 2, 1), now=later) == (0, 0)
    # Shrinks and moves at once: one lost, one gained (by its feeder).
    then = T0 + timedelta(minutes=10)
    assert move(side, incident, shapely.box(1, 0, 2, 1), feeders=["F"], now=then) == (1, 1)
    ties = tie_rows(side, incident)
    assert not ties[pks[0]].affected
    assert ties[pks[0]].released_at == then and ties[pks[0]].planned_version is None
    assert ties[pks[0]].told_version == 1  # what they were told stays
    assert affected(side, incident) == [pks[1], pks[3]]
    # Released (area None, no grid ids: a terminal incident): every affected tie.
    end = T0 + timedelta(minutes=20)
    assert move(side, incident, None, now=end) == (0, 2)
    assert affected(side, incident) == []
    assert {tie.released_at for tie in tie_rows(side, incident).values()} == {then, end}


def test_a_released_tie_comes_back_as_new(side: Backend) -> None:
    (pk,) = side.add([(0.5, 0.5)])
    incident = side.add_incident()
    move(side, incident, SQUARE)
    with side.session() as session, session.begin():
        session.execute(
            sa.update(IncidentCustomer).values(planned_version=1, planned_affected=True)
        )
    move(side, incident, None, now=T0 + timedelta(minutes=1))
    back = T0 + timedelta(minutes=2)
    assert move(side, incident, SQUARE, now=back) == (1, 0)
    tie = tie_rows(side, incident)[pk]
    assert tie.affected and tie.since == back and tie.released_at is None
    assert tie.planned_version is None and tie.planned_affected  # planning compares to this


def test_ties_of_other_incidents_are_left_alone(side: Backend) -> None:
    pks = side.add([(0.5, 0.5), (1.5, 1.5)])
    one, other = side.add_incident("inc_a"), side.add_incident("inc_b")
    move(side, one, SQUARE)
    move(side, other, SQUARE)
    assert move(side, one, None) == (0, 2)
    assert affected(side, other) == pks


def test_many_ties_move_in_chunks(side: Backend) -> None:
    """More ids than one SQLite statement may bind."""
    rng = np.random.default_rng(2)
    pks = side.add(list(zip(rng.uniform(0, 2, 2500), rng.uniform(0, 2, 2500), strict=True)))
    incident = side.add_incident()
    assert move(side, incident, SQUARE) == (2500, 0)
    left = shapely.box(0, 0, 1, 2)
    expected = side.index().within(left).tolist()
    assert move(side, incident, left) == (0, 2500 - len(expected))
    assert affected(side, incident) == expected
    assert move(side, incident, SQUARE) == (2500 - len(expected), 0)
    assert affected(side, incident) == pks


def test_each_database_gets_its_matcher() -> None:
    assert isinstance(matcher_for("postgresql"), PostgisMatcher)
    cache = CustomerIndexCache()
    memory = matcher_for("sqlite", cache)
    assert isinstance(memory, MemoryMatcher) and memory.cache is cache
