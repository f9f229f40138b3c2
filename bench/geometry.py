"""Big and hostile incident areas: how long checking one takes (parse_area + area_to_geojson,
what POST /incidents does with an area) and how long matching it against a town takes.

Shapes, each with a given number of vertices, over the middle of Helsinki:
- star: a valid star with short spikes (a ragged storm outline);
- spiky star: a valid star whose long spikes fan out from near its centre (GEOS's validity
  check compares every pair of edges whose boxes overlap: quadratic here);
- saw-tooth: a valid comb (a line through the teeth crosses all of them);
- zig-zag: a zig-zag closed by one long edge that crosses every tooth (each tooth is a lobe);
- tangled star: {n/k} with k near n/2, every edge crossing almost every other (refused).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely

from bench import town as towns
from bench.common import median_time, say
from bench.report import Section, ms
from outage_notify.matching.geometry import AreaError, area_to_geojson, parse_area
from outage_notify.matching.spatial import CustomerIndex

CENTRE = (24.94, 60.19)
RADIUS = 0.08  # degrees of latitude; longitude is stretched to look round at 60 N
SIZES = (1_000, 10_000, 20_000)
BIG_ZIG_ZAG = 100_000
MATCH_VERTICES = 10_000
Shape = Callable[..., dict[str, Any]]


def _ring(x: np.ndarray, y: np.ndarray, centre: tuple[float, float], radius: float) -> list:
    lon = centre[0] + x * radius / math.cos(math.radians(centre[1]))
    lat = centre[1] + y * radius
    points = np.column_stack([lon, lat]).tolist()
    return [*points, points[0]]


def _polygon(ring: list) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring]}


def star(n: int, inner: float = 0.8, centre: tuple[float, float] = CENTRE) -> dict[str, Any]:
    turns = np.linspace(0, 2 * math.pi, n, endpoint=False)
    radius = np.where(np.arange(n) % 2 == 0, 1.0, inner)
    return _polygon(_ring(radius * np.cos(turns), radius * np.sin(turns), centre, RADIUS))


def spiky_star(n: int, centre: tuple[float, float] = CENTRE) -> dict[str, Any]:
    return star(n, inner=0.3, centre=centre)


def saw_tooth(n: int, centre: tuple[float, float] = CENTRE) -> dict[str, Any]:
    teeth = n - 2
    x = np.linspace(-1, 1, teeth)[::-1]
    y = 0.5 + 0.5 * (np.arange(teeth) % 2)
    xs, ys = np.r_[-1.0, 1.0, x], np.r_[-1.0, -1.0, y]
    return _polygon(_ring(xs, ys, centre, RADIUS))


def zig_zag(n: int, centre: tuple[float, float] = CENTRE) -> dict[str, Any]:
    count = n + n % 2  # an even count ends on a peak, so the closing edge crosses every tooth
    return _polygon(_ring(np.linspace(-1, 1, count), np.arange(count) % 2 - 0.5, centre, RADIUS))


def tangled_star(n: int, centre: tuple[float, float] = CENTRE) -> dict[str, Any]:
    step = n // 2 - 1
    while math.gcd(n, step) != 1:
        step -= 1
    turns = 2 * math.pi * (np.arange(n) * step % n) / n
    return _polygon(_ring(np.cos(turns), np.sin(turns), centre, RADIUS))


SHAPES: dict[str, Shape] = {
    "star": star,
    "spiky star": spiky_star,
    "saw-tooth": saw_tooth,
    "zig-zag": zig_zag,
    "tangled star": tangled_star,
}


def run(customers: int, repeats: int) -> Section:
    section = Section("4. Big and hostile areas: checking one, matching one")
    for name, shape in SHAPES.items():
        for size in SIZES:
            say(f"geometry: checking a {size:,}-vertex {name}")
            section.rows.extend(measure_check(name, shape(size), size, repeats).rows)
    say(f"geometry: checking a {BIG_ZIG_ZAG:,}-vertex zig-zag")
    big = measure_check("zig-zag", zig_zag(BIG_ZIG_ZAG), BIG_ZIG_ZAG, 3, limit=BIG_ZIG_ZAG)
    section.rows.extend(big.rows)
    section.extend(measure_matching(customers, repeats))
    section.notes += [
        "check = parse_area + area_to_geojson, as POST /incidents does with an area, median of "
        "the runs; MAX_AREA_VERTICES (20,000) is raised only for the 100,000-vertex zig-zag.",
        "The spiky star's time is GEOS's own validity check, which compares every pair of edges "
        "whose boxes overlap: quadratic for long edges fanning out (bounded by the vertex limit).",
        "match = CustomerIndex.within on a fresh (unprepared) area, as the service calls it.",
    ]
    return section


def measure_check(
    name: str, geojson: dict[str, Any], size: int, repeats: int, limit: int | None = None
) -> Section:
    section = Section(name)
    timed = median_time(lambda _: _check(geojson, limit or 20_000), repeats)
    outcome = timed.result
    case = f"{name}, {size:,} vertices"
    section.add(case, "check", ms(timed.median), "ms", f"{outcome}; min {ms(min(timed.runs)):.1f}")
    return section


def _check(geojson: dict[str, Any], limit: int) -> str:
    try:
        area = area_to_geojson(parse_area(geojson, max_vertices=limit))
    except AreaError as exc:
        return f"refused: {str(exc)[:48]}…"
    parts = len(area["coordinates"]) if area["type"] == "MultiPolygon" else 1
    return f"{area['type']}, {parts:,} part(s)"


def _fresh(wkb: bytes) -> Callable[[], Any]:
    """A new, unprepared copy of the area per run: preparing it is part of what matching pays."""
    return lambda: shapely.from_wkb(wkb)


def measure_matching(customers: int, repeats: int) -> Section:
    section = Section("matching")
    say(f"geometry: a synthetic town of {customers:,}")
    town = towns.synthetic_town(customers)
    index = CustomerIndex(
        pks=np.arange(1, len(town) + 1, dtype=np.int64),
        lon=town.lon,
        lat=town.lat,
        feeders=town.feeders,
        transformers=town.transformers,
    )
    centre = (float(np.median(town.lon)), float(np.median(town.lat)))
    for name in ("star", "spiky star", "saw-tooth", "zig-zag"):
        say(f"geometry: matching a {MATCH_VERTICES:,}-vertex {name}")
        area = parse_area(SHAPES[name](MATCH_VERTICES, centre=centre))
        timed = median_time(index.within, max(1, repeats // 2), _fresh(area.wkb))
        case = f"{name}, {MATCH_VERTICES:,} vertices vs {len(town):,} customers"
        section.add(case, "match", ms(timed.median), "ms", f"{len(timed.result):,} inside")
    return section
