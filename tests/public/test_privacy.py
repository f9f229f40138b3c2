"""What the public may be shown: counts withheld below the threshold, and grid incidents drawn
as whole cells of a fixed grid, so that no house can be told from the shape."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Point, Polygon

from outage_notify.public.privacy import (
    CELL_METERS,
    MIN_PUBLIC_COUNT,
    cells_covering,
    public_count,
    published,
)

# Points over southern Finland (UTM zone 35).
points = st.lists(
    st.tuples(st.floats(24.0, 29.9, allow_nan=False), st.floats(59.8, 61.5, allow_nan=False)),
    min_size=1,
    max_size=40,
)
TO_UTM = Transformer.from_crs("EPSG:4326", "+proj=utm +zone=35 +datum=WGS84", always_xy=True)


def test_counts_below_the_threshold_are_withheld() -> None:
    assert MIN_PUBLIC_COUNT == 3
    assert [public_count(n) for n in (0, 1, 2, 3, 4, 1000)] == [None, None, None, 3, 4, 1000]


def test_no_points_no_cells() -> None:
    assert cells_covering([]) is None


def test_one_house_is_one_whole_cell() -> None:
    cells = cells_covering([(25.6650, 60.3936)])
    assert isinstance(cells, Polygon)
    x0, y0, x1, y1 = _utm_bounds(cells)
    assert (round(x1 - x0), round(y1 - y0)) == (CELL_METERS, CELL_METERS)


@settings(max_examples=60, deadline=None)
@given(points)
def test_the_cells_cover_every_point_and_every_corner_lies_on_the_grid(
    chosen: list[tuple[float, float]],
) -> None:
    cells = cells_covering(chosen)
    assert isinstance(cells, Polygon | MultiPolygon)
    grown = cells.buffer(1e-7)
    assert all(grown.covers(Point(p)) for p in chosen)
    for x, y in _utm_vertices(cells):
        # On the grid's lines: the shape says which cells, never where in a cell.
        assert abs(x / CELL_METERS - round(x / CELL_METERS)) < 1e-5
        assert abs(y / CELL_METERS - round(y / CELL_METERS)) < 1e-5


def test_cells_are_stable_whatever_else_is_out() -> None:
    """A house's cell is the same alone or with a far-away neighbour: the grid does not move."""
    house, other = (25.6650, 60.3936), (25.7, 60.45)
    alone = cells_covering([house])
    together = cells_covering([house, other])
    assert alone is not None and together is not None
    assert together.contains(alone.buffer(-1e-6))


def test_published_shapes_are_rounded_to_about_a_metre() -> None:
    shape = published(Polygon([(25.123456789, 60.1), (25.2, 60.1), (25.2, 60.2)]))
    assert shape is not None
    assert all(round(x, 5) == x for x, _ in shape.exterior.coords)
    assert published(Polygon([(25.0, 60.0), (25.0000001, 60.0), (25.0, 60.0000001)])) is None


def _utm_vertices(geometry: Polygon | MultiPolygon) -> list[tuple[float, float]]:
    polygons = geometry.geoms if isinstance(geometry, MultiPolygon) else [geometry]
    coords = [c for p in polygons for ring in (p.exterior, *p.interiors) for c in ring.coords]
    xs, ys = TO_UTM.transform([c[0] for c in coords], [c[1] for c in coords])
    return list(zip(xs, ys, strict=True))


def _utm_bounds(geometry: Polygon) -> tuple[float, float, float, float]:
    vertices = _utm_vertices(geometry)
    xs, ys = [v[0] for v in vertices], [v[1] for v in vertices]
    return min(xs), min(ys), max(xs), max(ys)
