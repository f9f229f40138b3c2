"""The console's customer clusters (web/clusters.py): every customer in the view is counted
once, each cluster sits at its cell's centre inside the cell, and bad views are refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outage_notify.web.clusters import Bounds, BoundsError, clusters, count_cells, grid_for

lats = st.floats(min_value=59.0, max_value=61.0, allow_nan=False)
lons = st.floats(min_value=24.0, max_value=26.0, allow_nan=False)
VIEW = Bounds(south=59.0, west=24.0, north=61.0, east=26.0)


@settings(deadline=None)  # timing belongs in bench/, not here
@given(points=st.lists(st.tuples(lats, lons), max_size=300), zoom=st.integers(6, 10))
def test_every_customer_is_counted_once_at_a_cell_centre(
    points: list[tuple[float, float]], zoom: int
) -> None:
    grid = grid_for(VIEW, zoom)
    counts = count_cells(grid, points)
    collection = clusters(grid, [(r, c, n) for (r, c), n in counts.items()])
    features = collection["features"]
    assert sum(f["properties"]["count"] for f in features) == len(points)
    assert len(features) == len(counts) <= len(points)
    for feature in features:
        lon, lat = feature["geometry"]["coordinates"]
        row, col = grid.cell_of(lat, lon)
        assert (row, col) in counts  # the centre lies in the cell it counts
        assert grid.centre(row, col) == pytest.approx((lat, lon), abs=1e-6)


@settings(deadline=None)  # timing belongs in bench/, not here
@given(lat=lats, lon=lons, zoom=st.integers(6, 10))
def test_a_lone_customer_is_never_shown_at_their_own_place(
    lat: float, lon: float, zoom: int
) -> None:
    grid = grid_for(VIEW, zoom)
    [feature] = clusters(grid, [(*grid.cell_of(lat, lon), 1)])["features"]
    shown_lon, shown_lat = feature["geometry"]["coordinates"]
    # Only the cell is told: where in it the customer lives is not.
    assert grid.cell_of(shown_lat, shown_lon) == grid.cell_of(lat, lon)
    half = grid.size / 2 + 1e-6
    assert abs(shown_lat - lat) <= half and abs(shown_lon - lon) <= half


@settings(deadline=None)  # timing belongs in bench/, not here
@given(zoom=st.floats(min_value=0, max_value=20))
def test_cells_shrink_as_the_operator_zooms_in(zoom: float) -> None:
    small = Bounds(south=60.0, west=25.0, north=60.001, east=25.001)
    assert grid_for(small, zoom).size >= grid_for(small, min(zoom + 1, 20)).size


def test_points_outside_the_view_are_left_out() -> None:
    grid = grid_for(Bounds(south=60.0, west=25.0, north=60.5, east=25.5), 10)
    assert sum(count_cells(grid, [(60.2, 25.2), (61.0, 25.2), (60.2, 26.0)]).values()) == 1


@pytest.mark.parametrize(
    ("view", "zoom", "reason"),
    [
        ({"south": 61, "west": 24, "north": 60, "east": 25}, 8, "south must be less than north"),
        ({"south": 60, "west": 25, "north": 61, "east": 24}, 8, "west must be less than east"),
        ({"south": -95, "west": 24, "north": 60, "east": 25}, 8, "south must be a number"),
        ({"south": 60, "west": 24, "north": 61, "east": float("nan")}, 8, "east must be"),
        ({"south": 60, "west": 24, "north": 61, "east": 25}, 21, "zoom must be between"),
        ({"south": -80, "west": -170, "north": 80, "east": 170}, 16, "too large"),
    ],
)
def test_bad_views_are_refused_with_a_reason(view: dict, zoom: float, reason: str) -> None:
    with pytest.raises(BoundsError, match=reason):
        grid_for(Bounds(**view), zoom)
