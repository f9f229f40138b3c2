"""circle_polygon: the surroundings of a point outage, drawn in metres, given in WGS 84."""

from __future__ import annotations

import math
from typing import Any

import pytest
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import Point

from outage_notify.matching.geometry import AreaError, circle_polygon, parse_area


def laea_area(geojson: dict[str, Any], lon: float, lat: float) -> float:
    """Area in square metres, measured in a Lambert azimuthal equal-area projection centred on
    the point (equal-area: it measures the area on the ellipsoid)."""
    to_laea = Transformer.from_crs(
        "EPSG:4326", f"+proj=laea +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m", always_xy=True
    )
    ring = geojson["coordinates"][0]
    xs, ys = to_laea.transform([p[0] for p in ring], [p[1] for p in ring])
    return float(shapely.Polygon(list(zip(xs, ys, strict=True))).area)


@pytest.mark.parametrize(("lon", "lat"), [(24.94, 60.17), (25.0, 60.0), (-78.5, 0.0), (0.0, 0.0)])
@pytest.mark.parametrize("radius", [300.0, 5000.0])
def test_area_is_pi_r_squared_within_one_percent(lon: float, lat: float, radius: float) -> None:
    circle = circle_polygon(lon, lat, radius)
    assert laea_area(circle, lon, lat) == pytest.approx(math.pi * radius**2, rel=0.01)


def test_every_vertex_is_radius_metres_from_the_centre_at_60n() -> None:
    circle = circle_polygon(24.94, 60.17, 300.0)
    ring = circle["coordinates"][0]
    geod = Geod(ellps="WGS84")
    _, _, distances = geod.inv([24.94] * len(ring), [60.17] * len(ring), *zip(*ring, strict=True))
    assert distances == pytest.approx([300.0] * len(ring), abs=0.01)
    # A naive circle in degrees would be twice as wide as tall at 60°N; this one is not.
    lons, lats = zip(*ring, strict=True)
    width = (max(lons) - min(lons)) * math.cos(math.radians(60.17))
    assert width == pytest.approx(max(lats) - min(lats), rel=0.01)


def test_it_is_a_closed_counter_clockwise_ring_that_parses_as_an_area() -> None:
    circle = circle_polygon(-122.07466, 37.90816, 300.0, segments=16)
    ring = circle["coordinates"][0]
    assert circle["type"] == "Polygon"
    assert len(ring) == 17
    assert ring[0] == ring[-1]
    polygon = parse_area(circle)
    assert polygon.exterior.is_ccw
    assert polygon.covers(Point(-122.07466, 37.90816))
    assert not polygon.covers(Point(-122.07466, 37.90816 + 0.004))  # about 440 m north


@pytest.mark.parametrize(
    ("lon", "lat", "radius"),
    [
        (math.nan, 60.0, 300.0),
        (24.0, math.inf, 300.0),
        (200.0, 60.0, 300.0),
        (24.0, 91.0, 300.0),
        (24.0, 60.0, 0.0),
        (24.0, 60.0, -5.0),
        (24.0, 60.0, math.nan),
        (179.9999, 60.0, 300.0),  # would wrap into a band round the globe
        (-179.9999, -40.0, 300.0),
        (10.0, 89.999, 300.0),  # round the north pole
    ],
)
def test_refuses_a_point_or_radius_that_cannot_be_drawn(
    lon: float, lat: float, radius: float
) -> None:
    with pytest.raises(AreaError):
        circle_polygon(lon, lat, radius)
