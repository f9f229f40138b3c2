"""Matching in memory: CustomerIndex (STRtree) against raw shapely predicates on the same
coordinate arrays and the same storm polygon, for the demo town and a large synthetic town."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from bench import town as towns
from bench.common import Timed, median_time, say
from bench.report import Section, ms
from outage_notify.matching.spatial import CustomerIndex
from outage_notify.matching.territory import derive

SHARE = 0.10  # of the customers inside the storm polygon
VERTICES = 100


def run(synthetic_count: int, repeats: int) -> Section:
    section = Section("1. Matching in memory (CustomerIndex.within vs raw shapely)")
    for town, build_repeats in ((towns.demo_town(), 5), (towns.synthetic_town(synthetic_count), 3)):
        say(f"matching: {town.name}")
        section.extend(measure_town(town, build_repeats, repeats))
    section.notes.append(
        "within() is timed as the service calls it: a fresh, unprepared polygon each run. "
        "Raw predicates get a fresh polygon too, prepared (shapely.prepare) inside the timing, "
        "and return sorted positions like within()."
    )
    return section


def measure_town(town: towns.Town, build_repeats: int, repeats: int) -> Section:
    section = Section(town.name)
    case = f"{town.name} ({len(town):,})"
    polygon = towns.storm_polygon(town.lon, town.lat, round(len(town) * SHARE), vertices=VERTICES)
    build = median_time(lambda _: _build_index(town), build_repeats)
    index: CustomerIndex = build.result
    territory = median_time(lambda _: derive(town.lon, town.lat), repeats)
    fresh = _fresh_copies(polygon)
    results = {
        "CustomerIndex.within": median_time(index.within, repeats, fresh),
        "contains_xy": median_time(_raw(shapely.contains_xy, town), repeats, fresh),
        "intersects_xy": median_time(_raw(shapely.intersects_xy, town), repeats, fresh),
        "contains_xy + bbox prefilter": median_time(
            _prefiltered(shapely.contains_xy, town), repeats, fresh
        ),
        "intersects_xy + bbox prefilter": median_time(
            _prefiltered(shapely.intersects_xy, town), repeats, fresh
        ),
    }
    matched = results["CustomerIndex.within"].result
    section.notes.append(f"{case}: {town.source}.")
    section.add(case, "polygon vertices", len(polygon.exterior.coords) - 1)
    section.add(case, "matched", len(matched), "customers", f"{len(matched) / len(town):.1%}")
    section.add(case, "build CustomerIndex", ms(build.median), "ms", _spread(build))
    section.add(case, "derive territory", ms(territory.median), "ms", _spread(territory))
    for name, result in results.items():
        section.add(case, name, ms(result.median), "ms", _spread(result))
    for name in [n for n in results if n != "CustomerIndex.within"]:
        section.add(case, f"same customers: within vs {name}", *_agree(matched, results[name]))
    section.figures[town.name] = _figures(town, polygon, build, results)
    section.figures[town.name]["derive_territory_s"] = {
        "median": territory.median,
        "runs": territory.runs,
    }
    return section


def _build_index(town: towns.Town) -> CustomerIndex:
    return CustomerIndex(
        pks=np.arange(1, len(town) + 1, dtype=np.int64),
        lon=town.lon,
        lat=town.lat,
        feeders=town.feeders,
        transformers=town.transformers,
    )


def _fresh_copies(polygon: BaseGeometry) -> Callable[[], BaseGeometry]:
    """A new, unprepared geometry per run: preparation is part of what each method pays."""
    wkb = polygon.wkb
    return lambda: shapely.from_wkb(wkb)


def _raw(
    predicate: Callable[..., np.ndarray], town: towns.Town
) -> Callable[[BaseGeometry], np.ndarray]:
    def match(area: BaseGeometry) -> np.ndarray:
        shapely.prepare(area)
        return np.flatnonzero(predicate(area, town.lon, town.lat)) + 1  # pks are 1-based

    return match


def _prefiltered(
    predicate: Callable[..., np.ndarray], town: towns.Town
) -> Callable[[BaseGeometry], np.ndarray]:
    """The predicate only on the points inside the polygon's bounding box (numpy compares)."""

    def match(area: BaseGeometry) -> np.ndarray:
        minx, miny, maxx, maxy = area.bounds
        lon, lat = town.lon, town.lat
        near = np.flatnonzero((lon >= minx) & (lon <= maxx) & (lat >= miny) & (lat <= maxy))
        shapely.prepare(area)
        return near[predicate(area, lon[near], lat[near])] + 1

    return match


def _spread(result: Timed) -> str:
    runs = [ms(r) for r in result.runs]
    return f"median of {len(runs)}; min {min(runs):.2f}, max {max(runs):.2f} ms"


def _agree(matched: np.ndarray, other: Timed) -> tuple[bool, str, str]:
    theirs = np.asarray(other.result)
    if np.array_equal(matched, theirs):
        return True, "", f"identical sets of {len(matched):,}"
    only_index = np.setdiff1d(matched, theirs).size
    only_raw = np.setdiff1d(theirs, matched).size
    return False, "", f"differ: {only_index} only in within(), {only_raw} only in raw"


def _figures(
    town: towns.Town, polygon: BaseGeometry, build: Timed, results: dict[str, Timed]
) -> dict[str, object]:
    matched = results["CustomerIndex.within"].result
    return {
        "customers": len(town),
        "source": town.source,
        "polygon_vertices": len(polygon.exterior.coords) - 1,
        "polygon_bounds": list(polygon.bounds),
        "matched": len(matched),
        "build_index_s": {"median": build.median, "runs": build.runs},
        "query_s": {
            name: {"median": r.median, "runs": r.runs, "same_as_within": _same(matched, r)}
            for name, r in results.items()
        },
    }


def _same(matched: np.ndarray, other: Timed) -> bool:
    return bool(np.array_equal(matched, np.asarray(other.result)))
