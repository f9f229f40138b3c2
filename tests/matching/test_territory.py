"""The service territory derived from customers' points: a few stray rows cannot widen it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from outage_notify.matching.territory import (
    CELL_DEGREES,
    DerivedTerritory,
    Territory,
    TerritoryError,
    cell_counts,
    derive,
    derive_from_counts,
    exchanged,
    outside_reason,
    read_territory,
    shifted,
)

FAST = settings(max_examples=60, deadline=None, database=None)
HELSINKI = (24.90, 60.15, 25.00, 60.20)  # lon/lat box of the towns below


def town(count: int, seed: int = 1, bounds: tuple[float, ...] = HELSINKI) -> np.ndarray:
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = bounds
    return np.column_stack([rng.uniform(minx, maxx, count), rng.uniform(miny, maxy, count)])


def derived(points: np.ndarray) -> DerivedTerritory:
    return derive(points[:, 0], points[:, 1])


def strays(points: np.ndarray, result: DerivedTerritory | None = None) -> list[bool]:
    found = result if result is not None else derived(points)
    return found.strays_at(points[:, 0], points[:, 1]).tolist()


def area_of(points: np.ndarray) -> shapely.Geometry:
    result = derived(points).territory
    assert result is not None
    return result.area


# ---- strays ----------------------------------------------------------------------------------


def test_no_customers_no_territory() -> None:
    result = derive(np.empty(0), np.empty(0))
    assert result.territory is None
    assert result.strays_at(np.array([24.9]), np.array([60.1])).tolist() == [False]


def test_a_town_lies_inside_its_territory_with_a_margin() -> None:
    points = town(1000)
    result = derived(points)
    assert result.territory is not None
    assert not any(strays(points, result))
    assert result.territory.holds(points[:, 0], points[:, 1]).all()
    margin = shapely.box(*HELSINKI).buffer(CELL_DEGREES * 0.99, join_style="mitre")
    assert result.territory.area.contains(margin)


def test_one_swapped_row_is_a_stray_and_does_not_widen_the_territory() -> None:
    points = town(1000)
    with_swapped = np.vstack([points, [[60.17, 24.95]]])
    result = derived(with_swapped)
    assert strays(with_swapped, result) == [False] * 1000 + [True]
    assert result.territory is not None
    assert result.territory.area.equals(area_of(points))
    assert not result.territory.holds(np.array([60.17]), np.array([24.95]))[0]


def test_under_a_hundred_customers_nothing_is_stray() -> None:
    points = np.vstack([town(50), [[60.17, 24.95]]])
    result = derived(points)
    assert not any(strays(points, result))
    assert result.territory is not None
    assert result.territory.holds(points[:, 0], points[:, 1]).all()


def test_ten_rows_together_are_a_group_not_strays() -> None:
    far = town(10, seed=2, bounds=(60.15, 24.90, 60.20, 25.00))
    result = derived(np.vstack([town(1000), far]))
    assert not any(strays(far, result))
    assert result.territory is not None
    assert result.territory.holds(far[:, 0], far[:, 1]).all()


def test_one_percent_of_the_customers_is_a_group_not_strays() -> None:
    far = town(3, seed=2, bounds=(60.15, 24.90, 60.20, 25.00))
    assert not any(strays(np.vstack([town(297), far])))
    assert sum(strays(np.vstack([town(297), far[:2]]))) == 2


@pytest.mark.parametrize(("cells_away", "stray"), [(2, False), (3, True)])
def test_groups_join_across_a_gap_of_one_empty_cell(cells_away: int, stray: bool) -> None:
    """A cell two cells away (one empty cell between) joins the town; three away does not."""
    base = town(1000, bounds=(25.01, 60.01, 25.24, 60.24))  # exactly one cell
    lon = 25.01 + cells_away * CELL_DEGREES
    assert strays(np.vstack([base, [[lon, 60.1]] * 3]))[-3:] == [stray] * 3


def test_when_every_group_is_small_no_one_is_stray() -> None:
    """Customers spread so thinly that no group is big enough: there are no strays then."""
    lon, lat = np.meshgrid(np.arange(0.0, 20.0), np.arange(40.0, 50.0))
    assert not any(strays(np.column_stack([lon.ravel(), lat.ravel()])))


def test_counts_kept_up_to_date_derive_the_same_territory() -> None:
    points = town(1000)
    moved_from = np.array([[24.95, 60.17], [24.96, 60.18]])
    before = cell_counts(
        np.r_[points[:, 0], moved_from[:, 0]], np.r_[points[:, 1], moved_from[:, 1]]
    )
    moved_to = np.array([[60.17, 24.95], [24.97, 60.16]])
    after = shifted(
        before, removed=(moved_from[:, 0], moved_from[:, 1]), added=(moved_to[:, 0], moved_to[:, 1])
    )
    everyone = np.vstack([points, moved_to])
    assert after.tolist() == cell_counts(everyone[:, 0], everyone[:, 1]).tolist()
    incremental, direct = derive_from_counts(after), derived(everyone)
    assert incremental.territory is not None and direct.territory is not None
    assert incremental.territory.area.equals(direct.territory.area)
    assert incremental.stray_cells.tolist() == direct.stray_cells.tolist()


def test_strays_at_tells_the_stray_cells() -> None:
    result = derived(np.vstack([town(1000), [[60.17, 24.95]]]))
    flags = result.strays_at(
        np.array([60.17, 60.18, 24.95, 10.0]), np.array([24.95, 24.9, 60.17, 10])
    )
    assert flags.tolist() == [True, True, False, False]


far_points = st.lists(
    st.one_of(
        st.tuples(st.floats(-180, 23.5), st.floats(-90, 90)),
        st.tuples(st.floats(26.5, 180), st.floats(-90, 90)),
        st.tuples(st.floats(23.5, 26.5), st.floats(-90, 58.5)),
        st.tuples(st.floats(23.5, 26.5), st.floats(61.5, 90)),
    ),
    min_size=1,
    max_size=9,
)


@FAST
@given(far_points)
def test_up_to_nine_far_rows_never_change_the_territory_of_a_town(
    extra: list[tuple[float, float]],
) -> None:
    points = np.vstack([town(1000), extra])
    result = derived(points)
    assert result.territory is not None
    assert result.territory.area.equals(area_of(points[:1000]))
    assert strays(points, result) == [False] * 1000 + [True] * len(extra)


clusters = st.lists(
    st.tuples(
        st.floats(-170, 170),
        st.floats(-80, 80),
        st.integers(1, 40),
        st.floats(0.0, 0.6),
    ),
    min_size=1,
    max_size=6,
)


@FAST
@given(clusters, st.integers(0, 2**32 - 1))
def test_every_customer_of_a_kept_group_is_inside_the_territory(
    spec: list[tuple[float, float, int, float]], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    parts = [
        np.column_stack(
            [
                np.clip(x + rng.uniform(-r, r, n), -180, 180),
                np.clip(y + rng.uniform(-r, r, n), -90, 90),
            ]
        )
        for x, y, n, r in spec
    ]
    points = np.vstack(parts)
    result = derived(points)
    assert result.territory is not None
    kept = ~np.array(strays(points, result))
    assert kept.any()
    assert result.territory.holds(points[kept, 0], points[kept, 1]).all()


def test_the_core_is_the_largest_group() -> None:
    small_town = town(20, seed=3, bounds=(27.0, 62.0, 27.1, 62.1))
    points = np.vstack([town(100), small_town])
    result = derived(points)
    assert result.territory is not None
    assert not any(strays(points, result))
    assert result.territory.holds(small_town[:, 0], small_town[:, 1]).all()
    assert not result.territory.in_core(small_town[:, 0], small_town[:, 1]).any()
    assert result.territory.in_core(np.array([24.95]), np.array([60.17])).all()


def test_deriving_is_the_same_whatever_the_order_of_the_points() -> None:
    points = np.vstack([town(500), town(5, seed=4, bounds=(60.1, 24.9, 60.2, 25.0))])
    order = np.random.default_rng(5).permutation(len(points))
    first, second = derived(points), derived(points[order])
    assert first.territory is not None and second.territory is not None
    assert first.territory.area.equals(second.territory.area)
    assert first.stray_cells.tolist() == second.stray_cells.tolist()


# ---- exchanging lon and lat --------------------------------------------------------------------


def test_exchanged_swaps_every_position() -> None:
    area = shapely.box(24.9, 60.1, 25.0, 60.2)
    assert exchanged(area).equals(shapely.box(60.1, 24.9, 60.2, 25.0))  # type: ignore[union-attr]


def test_no_exchange_where_a_longitude_cannot_have_been_a_latitude() -> None:
    assert exchanged(shapely.box(100.0, 10.0, 101.0, 11.0)) is None
    assert exchanged(shapely.box(-120.0, 37.0, -119.0, 38.0)) is None


@FAST
@given(
    st.floats(-90, 89),
    st.floats(-90, 89),
    st.floats(0.01, 1),
    st.floats(0.01, 1),
)
def test_exchanging_twice_gives_the_area_back(x: float, y: float, w: float, h: float) -> None:
    area = shapely.box(x, y, x + w, y + h)
    once = exchanged(area)
    assert once is not None
    assert once.is_valid and once.area == pytest.approx(area.area)
    assert exchanged(once).equals(area)  # type: ignore[union-attr]


def test_swaps_can_be_told_only_where_the_core_does_not_meet_its_mirror() -> None:
    finland = shapely.box(19.0, 59.5, 31.6, 70.1)
    assert Territory(area=finland, core=finland).swap_detectable
    caucasus = shapely.box(40.0, 41.0, 46.0, 44.0)
    assert not Territory(area=caucasus, core=caucasus).swap_detectable
    california = shapely.box(-124.5, 32.5, -114.0, 42.0)
    assert Territory(area=california, core=california).swap_detectable


# ---- a configured territory ----------------------------------------------------------------------


def test_a_box_is_read_as_minlon_minlat_maxlon_maxlat() -> None:
    territory = read_territory("19.0, 59.5, 31.6, 70.1")
    assert territory.area.equals(shapely.box(19.0, 59.5, 31.6, 70.1))


def test_a_geojson_file_is_read_as_its_polygons(tmp_path: Path) -> None:
    path = tmp_path / "two.geojson"
    collection = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {}, "geometry": json.loads(shapely.to_geojson(b))}
            for b in (shapely.box(24, 60, 25, 61), shapely.box(26, 60, 27, 61))
        ],
    }
    path.write_text(json.dumps(collection), encoding="utf-8")
    territory = read_territory(str(path))
    assert territory.area.equals(shapely.box(24, 60, 25, 61).union(shapely.box(26, 60, 27, 61)))


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "does not exist"),
        ("{not json", "not GeoJSON"),
        ('{"type": "Point", "coordinates": [25, 60]}', "Polygon"),
        ('{"type": "Polygon", "coordinates": [[[25, 95], [26, 95], [26, 96], [25, 95]]]}', "range"),
    ],
)
def test_a_bad_territory_file_says_what_is_wrong(
    tmp_path: Path, content: str | None, fragment: str
) -> None:
    path = tmp_path / "territory.geojson"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(TerritoryError, match=fragment) as caught:
        read_territory(str(path))
    assert str(path) in str(caught.value)


def test_a_customer_outside_a_configured_territory_gets_a_reason() -> None:
    territory = read_territory("19.0,59.5,31.6,70.1")
    assert outside_reason(territory, 24.95, 60.17) is None
    swapped = outside_reason(territory, 60.17, 24.95)
    assert swapped is not None and "outside the service territory" in swapped
    assert "swapped" in swapped
    elsewhere = outside_reason(territory, 10.0, 50.0)
    assert elsewhere is not None and "swapped" not in elsewhere
