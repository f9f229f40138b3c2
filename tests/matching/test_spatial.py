"""CustomerIndex: who is inside an area (boundary included) or on a listed feeder/transformer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Polygon

from outage_notify.matching.spatial import PIECE_VERTICES, CustomerIndex, pieces
from outage_notify.matching.territory import derive

FAST = settings(max_examples=200, deadline=None, database=None)


def make_index(
    points: list[tuple[float, float]],
    pks: list[int] | None = None,
    feeders: list[str | None] | None = None,
    transformers: list[str | None] | None = None,
) -> CustomerIndex:
    n = len(points)
    return CustomerIndex(
        pks=np.asarray(pks if pks is not None else range(1, n + 1)),
        lon=np.asarray([p[0] for p in points], dtype=float),
        lat=np.asarray([p[1] for p in points], dtype=float),
        feeders=feeders if feeders is not None else [None] * n,
        transformers=transformers if transformers is not None else [None] * n,
    )


def expected_within(index: CustomerIndex, area: Any) -> list[int]:
    inside = shapely.intersects_xy(area, index.lon, index.lat)
    return sorted(index.pks[inside].tolist())


# ---- the geometry ------------------------------------------------------------------------------


SQUARE = shapely.box(0.0, 0.0, 2.0, 2.0)


@pytest.mark.parametrize(
    ("point", "inside"),
    [
        ((1.0, 1.0), True),  # interior
        ((0.0, 0.0), True),  # vertex
        ((2.0, 2.0), True),  # opposite vertex
        ((1.0, 0.0), True),  # on an edge
        ((2.0, 1.5), True),  # on another edge
        ((0.0, 2.0), True),
        ((2.000001, 1.0), False),
        ((-0.000001, 1.0), False),
        ((3.0, 3.0), False),
    ],
)
def test_boundary_and_vertices_count_as_inside(point: tuple[float, float], inside: bool) -> None:
    index = make_index([point], pks=[42])
    assert index.within(SQUARE).tolist() == ([42] if inside else [])


def test_point_on_a_sloped_edge_counts_as_inside() -> None:
    triangle = Polygon([(0, 0), (4, 0), (0, 4)])
    index = make_index([(2.0, 2.0), (1.0, 3.0), (2.0, 2.5)])
    assert index.within(triangle).tolist() == [1, 2]


def test_hole_is_outside_but_its_rim_is_inside() -> None:
    with_hole = Polygon(
        [(0, 0), (4, 0), (4, 4), (0, 4)],
        holes=[[(1, 1), (3, 1), (3, 3), (1, 3)]],
    )
    index = make_index([(2.0, 2.0), (1.0, 2.0), (0.5, 0.5), (1.0, 1.0)])
    assert index.within(with_hole).tolist() == [2, 3, 4]


def test_multipolygon_matches_in_every_part() -> None:
    area = MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(10, 10, 11, 11)])
    index = make_index([(0.5, 0.5), (5.0, 5.0), (10.5, 10.5), (11.0, 11.0)])
    assert index.within(area).tolist() == [1, 3, 4]


def test_within_returns_sorted_primary_keys_not_positions() -> None:
    index = make_index([(1.0, 1.0), (5.0, 5.0), (0.5, 0.5), (1.5, 0.5)], pks=[30, 99, 10, 20])
    result = index.within(SQUARE)
    assert result.tolist() == [10, 20, 30]
    assert result.dtype == np.int64


def test_customers_at_the_same_place_are_all_found() -> None:
    index = make_index([(1.0, 1.0)] * 3, pks=[7, 5, 6])
    assert index.within(SQUARE).tolist() == [5, 6, 7]


def test_realistic_coordinates() -> None:
    # Central Helsinki: a customer at the railway station, one in Espoo, one in Tallinn.
    area = shapely.box(24.90, 60.15, 24.98, 60.19)
    index = make_index([(24.9414, 60.1710), (24.6559, 60.2055), (24.7536, 59.4370)])
    assert index.within(area).tolist() == [1]


def test_swapped_lat_lon_finds_no_one() -> None:
    area = shapely.box(60.15, 24.90, 60.19, 24.98)  # lat, lon by mistake
    index = make_index([(24.9414, 60.1710)])
    assert index.within(area).tolist() == []


grid = st.integers(-20, 20).map(lambda v: v / 2)  # exact halves: boundaries hit exactly
grid_point = st.tuples(grid, grid)


@st.composite
def polygons(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["box", "triangle", "hull", "multi", "holed"]))
    if kind == "box":
        x0, x1 = sorted(draw(st.lists(grid, min_size=2, max_size=2, unique=True)))
        y0, y1 = sorted(draw(st.lists(grid, min_size=2, max_size=2, unique=True)))
        return shapely.box(x0, y0, x1, y1)
    if kind == "triangle":
        tri = Polygon(draw(st.lists(grid_point, min_size=3, max_size=3, unique=True)))
        assume(tri.area > 0)
        return tri
    if kind == "hull":
        hull = shapely.MultiPoint(draw(st.lists(grid_point, min_size=3, max_size=12))).convex_hull
        assume(isinstance(hull, Polygon) and hull.area > 0)
        return hull
    if kind == "multi":
        a = draw(polygons())
        b = draw(polygons())
        union = shapely.union_all([a, b])
        assume(isinstance(union, Polygon | MultiPolygon) and union.area > 0)
        return union
    outer = shapely.box(-10, -10, 10, 10)
    hole = draw(polygons())
    holed = outer.difference(hole)
    assume(isinstance(holed, Polygon | MultiPolygon) and holed.area > 0)
    return holed


@FAST
@given(area=polygons(), points=st.lists(grid_point, max_size=60), data=st.data())
def test_within_agrees_with_shapely_intersects(
    area: Any, points: list[tuple[float, float]], data: st.DataObject
) -> None:
    # Add the area's own vertices: the hardest points, right on the boundary.
    vertices = [tuple(c) for c in shapely.get_coordinates(area).tolist()]
    points = points + data.draw(st.lists(st.sampled_from(vertices), max_size=5))
    assume(points)
    pks = data.draw(st.permutations(list(range(100, 100 + len(points)))))
    index = make_index(points, pks=pks)
    result = index.within(area)
    assert result.tolist() == expected_within(index, area)
    for vertex in vertices:
        if vertex in points:
            assert pks[points.index(vertex)] in result


@FAST
@given(
    lon=st.floats(-180, 180, allow_nan=False),
    lat=st.floats(-90, 90, allow_nan=False),
    box=st.tuples(
        st.floats(-180, 180, allow_nan=False),
        st.floats(-90, 90, allow_nan=False),
        st.floats(0, 10, allow_nan=False),
        st.floats(0, 10, allow_nan=False),
    ),
)
def test_within_agrees_with_shapely_on_any_float_point(
    lon: float, lat: float, box: tuple[float, float, float, float]
) -> None:
    x, y, w, h = box
    assume(w > 0 and h > 0)
    area = shapely.box(x, y, x + w, y + h)
    index = make_index([(lon, lat), (x, y), (x + w, y + h)])
    assert index.within(area).tolist() == expected_within(index, area)
    assert {2, 3} <= set(index.within(area).tolist())  # corners are on the boundary


# ---- the grid ----------------------------------------------------------------------------------


@pytest.fixture
def wired() -> CustomerIndex:
    return make_index(
        [(0.5, 0.5), (1.5, 1.5), (5.0, 5.0), (6.0, 6.0), (7.0, 7.0), (8.0, 8.0)],
        pks=[1, 2, 3, 4, 5, 6],
        feeders=["F1", "F1", "F2", None, "", "F2"],
        transformers=["T1", None, "T1", "T2", None, None],
    )


def test_feeder_matches_its_customers(wired: CustomerIndex) -> None:
    assert wired.on_grid(["F1"], []).tolist() == [1, 2]
    assert wired.on_grid(["F2"], []).tolist() == [3, 6]


def test_transformer_matches_its_customers(wired: CustomerIndex) -> None:
    assert wired.on_grid([], ["T1"]).tolist() == [1, 3]
    assert wired.on_grid([], ["T2"]).tolist() == [4]


def test_unknown_or_blank_grid_ids_match_no_one(wired: CustomerIndex) -> None:
    assert wired.on_grid(["F9"], ["T9"]).tolist() == []
    assert wired.on_grid([""], [""]).tolist() == []  # a blank feeder cell is not a feeder
    assert wired.on_grid([], []).tolist() == []


def test_feeders_and_transformers_together_without_duplicates(wired: CustomerIndex) -> None:
    found = wired.on_grid(["F1", "F2", "F1"], ["T1", "T2"])
    assert found.tolist() == [1, 2, 3, 4, 6]


def test_match_is_the_union_of_area_and_grid_without_duplicates(wired: CustomerIndex) -> None:
    area = shapely.box(0, 0, 2, 2)  # customers 1 and 2, both also on F1
    result = wired.match(area, feeders=["F1"], transformers=["T2"])
    assert result.tolist() == [1, 2, 4]
    assert len(result) == len(set(result.tolist()))


def test_match_without_area_uses_the_grid_alone(wired: CustomerIndex) -> None:
    assert wired.match(None, feeders=["F2"]).tolist() == [3, 6]
    assert wired.match(None).tolist() == []


def test_match_with_area_alone(wired: CustomerIndex) -> None:
    assert wired.match(shapely.box(4.5, 4.5, 7, 7)).tolist() == [3, 4, 5]


@FAST
@given(
    points=st.lists(grid_point, min_size=1, max_size=30),
    data=st.data(),
)
def test_match_is_exactly_area_or_grid(points: list[tuple[float, float]], data: Any) -> None:
    n = len(points)
    ids = st.sampled_from(["A", "B", "C", None])
    feeders = data.draw(st.lists(ids, min_size=n, max_size=n))
    transformers = data.draw(st.lists(ids, min_size=n, max_size=n))
    index = make_index(points, feeders=feeders, transformers=transformers)
    area = data.draw(polygons())
    wanted_f = data.draw(st.lists(st.sampled_from(["A", "B", "X"]), max_size=3))
    wanted_t = data.draw(st.lists(st.sampled_from(["A", "C", "Y"]), max_size=3))
    result = index.match(area, wanted_f, wanted_t).tolist()
    lon, lat = zip(*points, strict=True)
    inside = shapely.intersects_xy(area, np.asarray(lon), np.asarray(lat))
    expected = sorted(
        i + 1  # the keys make_index gives, in the order the points were given
        for i in range(n)
        if inside[i] or feeders[i] in wanted_f or transformers[i] in wanted_t
    )
    assert result == expected


# ---- empty index and territory -------------------------------------------------------------------


def test_empty_index() -> None:
    index = make_index([])
    assert len(index) == 0
    assert index.derived_territory.territory is None
    assert index.within(SQUARE).tolist() == []
    assert index.within(SQUARE).dtype == np.int64
    assert index.on_grid(["F1"], ["T1"]).tolist() == []
    assert index.match(SQUARE, ["F1"], ["T1"]).tolist() == []


def test_the_territory_is_derived_from_the_customers_once() -> None:
    index = make_index([(24.9, 60.2), (25.1, 60.1), (24.7, 60.4)])
    territory = index.derived_territory.territory
    assert territory is not None
    again = derive(index.lon, index.lat).territory
    assert again is not None and territory.area.equals(again.area)
    assert (
        index.derived_territory is index.derived_territory
    )  # derived once per index, not per incident


def test_count_within_counts_only_the_core_when_asked() -> None:
    town = [(24.9 + i * 0.001, 60.2) for i in range(100)]
    other = [(27.0 + i * 0.001, 62.0) for i in range(20)]
    index = make_index(town + other)
    territory = index.derived_territory.territory
    assert territory is not None
    everywhere = shapely.box(0, 0, 50, 70)
    assert index.count_within(everywhere) == 120
    assert index.count_within(everywhere, among=territory) == 100
    assert index.count_within(shapely.box(27, 62, 28, 63), among=territory) == 0
    assert make_index([]).count_within(everywhere, among=territory) == 0


# ---- big areas -----------------------------------------------------------------------------------


def saw_tooth(teeth: int) -> Polygon:
    """A comb: every horizontal line through its teeth crosses all of them, so testing a point
    against the whole outline costs a step per tooth."""
    top = [(0.001 * i, 0.01 + 0.01 * (i % 2)) for i in range(2 * teeth)]
    return Polygon([(0.0, 0.0), (0.001 * (2 * teeth - 1), 0.0), *top[::-1]])


def spiky_star(spikes: int) -> Polygon:
    turns = np.linspace(0, 2 * np.pi, 2 * spikes, endpoint=False)
    radius = np.where(np.arange(2 * spikes) % 2 == 0, 1.0, 0.3)
    return Polygon(np.column_stack([radius * np.cos(turns), radius * np.sin(turns)]))


def holed_grid(size: int) -> Polygon:
    holes = [
        shapely.box(i + 0.25, j + 0.25, i + 0.75, j + 0.75).exterior.coords
        for i in range(size)
        for j in range(size)
    ]
    return Polygon(shapely.box(0, 0, size, size).exterior.coords, holes)


BIG_AREAS = {
    "saw-tooth": saw_tooth(1500),
    "spiky star": spiky_star(1500),
    "zig-zag lobes": shapely.make_valid(
        Polygon([(0.001 * i, 0.01 * (i % 2)) for i in range(3000)]), method="structure"
    ),
    "grid of holes": holed_grid(25),
}


def points_around(area: Any, count: int, seed: int) -> list[tuple[float, float]]:
    """Random points over the area's box, plus every vertex: on the boundary, so inside.
    (A point computed to lie on a sloped edge is off it by rounding, either way; cutting the
    area can tip such a point, nanometres from the edge, to the other side.)"""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = area.bounds
    spread = list(zip(rng.uniform(minx, maxx, count), rng.uniform(miny, maxy, count), strict=True))
    return spread + [tuple(v) for v in shapely.get_coordinates(area)]


@pytest.mark.parametrize("name", list(BIG_AREAS))
def test_a_big_area_matches_the_same_customers_as_shapely(name: str) -> None:
    area = BIG_AREAS[name]
    points = points_around(area, 20_000, seed=len(name))
    index = make_index(points)
    found = index.within(area).tolist()
    assert found == expected_within(index, area)
    assert set(range(20_001, len(points) + 1)) <= set(found)  # every vertex


@pytest.mark.parametrize("name", list(BIG_AREAS))
def test_a_big_area_is_tested_piece_by_piece(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Structural, not timed: no point is ever tested against more than a small piece of the
    # outline, so a point costs the same whatever the area's vertex count.
    real = shapely.intersects_xy
    sizes: list[int] = []

    def recording(geometry: Any, x: Any, y: Any) -> Any:
        sizes.append(int(shapely.get_num_coordinates(geometry)))
        return real(geometry, x, y)

    monkeypatch.setattr("outage_notify.matching.spatial.shapely.intersects_xy", recording)
    area = BIG_AREAS[name]
    make_index(points_around(area, 20_000, seed=1)).within(area)
    assert sizes and max(sizes) <= PIECE_VERTICES


@pytest.mark.parametrize("name", list(BIG_AREAS))
def test_pieces_cut_a_big_area_into_small_ones_covering_it_once(name: str) -> None:
    """The pieces PostGIS matching is given (spatial.pieces): the index's own cuts."""
    area = BIG_AREAS[name]
    found = pieces(area)
    assert len(found) > 1
    assert max(int(shapely.get_num_coordinates(p)) for p in found) <= PIECE_VERTICES
    assert sum(p.area for p in found) == pytest.approx(area.area, rel=1e-9)
    assert shapely.union_all(found).symmetric_difference(area).area < area.area * 1e-9


def test_a_small_area_is_its_own_piece() -> None:
    area = shapely.box(0, 0, 1, 1)
    assert pieces(area) == [area]


def test_the_index_read_in_batches_is_the_index_read_at_once(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.orm import Session

    from bench import data
    from outage_notify.db.engine import make_engine
    from outage_notify.matching import index_cache

    town = data.build(500)
    if database_url.startswith("sqlite"):
        data.write_sqlite(database_url, town)
    else:
        data.write_postgres(database_url, town)
    engine = make_engine(database_url)
    with Session(engine) as session:
        whole = index_cache.load_index(session)
        monkeypatch.setattr(index_cache, "FETCH_BATCH", 7)
        batched = index_cache.load_index(session)
    engine.dispose()
    assert np.array_equal(whole.pks, batched.pks) and len(whole) == 500
    assert np.array_equal(whole.lon, batched.lon) and np.array_equal(whole.lat, batched.lat)
    feeder = town.feeders[3]
    assert whole.on_grid([feeder], []).tolist() == batched.on_grid([feeder], []).tolist()
