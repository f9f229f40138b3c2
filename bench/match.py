"""Matching a storm at scale, three ways in the same run on the same points: raw shapely
(contains_xy on the coordinate arrays, bounding-box prefilter), the in-memory CustomerIndex,
and PostGIS in the database (count_matching), serial and with PostgreSQL's default parallelism.

The storm is 200 irregular polygons of 64 vertices around customers drawn at random, sized on a
100,000-customer sample of the same grid so that together they cover about 10 % of the
customers, then used unchanged at every size (the density is the same at every size).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from bench import data, postgres
from bench import town as towns
from bench.common import peak_rss_mb, say
from bench.report import Section, ms
from outage_notify.db.migrate import upgrade
from outage_notify.db.models import Incident
from outage_notify.matching import postgis
from outage_notify.matching.spatial import CustomerIndex

POLYGONS = 200
VERTICES = 64
SHARE = 0.10
SAMPLE = 100_000
# The bench cluster: durability off (the data is rebuilt every run), buffers for 5M customers.
CLUSTER_SETTINGS = (*postgres.FAST_UNSAFE, "shared_buffers=1GB")


def run(count: int, repeats: int) -> Section:
    case = f"{count:,} customers"
    section = Section(f"5. Match a {POLYGONS}-polygon storm: {case}")
    started = time.perf_counter()
    town = data.build(count)
    section.add(case, "build synthetic points", time.perf_counter() - started, "s")
    say(f"match {count:,}: the storm")
    polygons = storm()
    union = shapely.union_all(polygons)
    section.add(case, "storm polygons", len(polygons), "", f"{VERTICES} vertices each")
    vertices = int(shapely.get_num_coordinates(union))
    section.add(case, "storm as one area", vertices, "vertices", "their union")
    figures: dict[str, Any] = {
        "customers": count,
        "polygons": len(polygons),
        "union_vertices": vertices,
    }

    say(f"match {count:,}: raw shapely and CustomerIndex")
    matched = _in_memory(section, case, town, polygons, union, repeats, figures)

    say(f"match {count:,}: PostgreSQL")
    figures["postgis"] = _postgis(section, case, town, polygons, union, matched, repeats)
    figures["peak_rss_mb"] = peak_rss_mb()
    section.figures[f"match_{count}"] = figures
    section.notes.append(
        f"{case}: each polygon's matches united (np.unique) for (a) and (b); the union is "
        "shapely.union_all of the 200, cut in pieces by both matchers. (c) counts in one "
        "statement; 'each polygon' is 200 statements. Medians of the runs; the machine is shared."
    )
    return section


def _in_memory(
    section: Section,
    case: str,
    town: towns.Town,
    polygons: list[Polygon],
    union: BaseGeometry,
    repeats: int,
    figures: dict[str, Any],
) -> int:
    """(a) and (b); returns how many customers the storm matched."""
    fresh = _fresh_copies(polygons)
    raw = _timed(lambda areas: _raw_each(areas, town.lon, town.lat), repeats, fresh)
    built = _timed(lambda _: _index(town), 1)
    index: CustomerIndex = built.result
    each = _timed(lambda areas: _index_each(index, areas), repeats, fresh)
    whole = _timed(lambda area: index.within(area), repeats, _fresh_copy(union))
    matched = len(each.result)
    share = f"{matched / len(town):.1%}"
    section.add(case, "matched (storm)", matched, "customers", share)
    _row(section, case, "(a) raw contains_xy + bbox, each polygon", raw)
    _row(section, case, "(b) CustomerIndex build", built, unit="s")
    _row(section, case, "(b) CustomerIndex.within, each polygon", each)
    _row(section, case, "(b) CustomerIndex.within, the union", whole)
    section.add(case, "same: raw vs index", bool(np.array_equal(raw.result, each.result)))
    section.add(case, "same: index each vs union", bool(np.array_equal(each.result, whole.result)))
    figures.update(matched=matched, raw_s=raw.figures(), index_build_s=built.figures())
    figures.update(index_each_s=each.figures(), index_union_s=whole.figures())
    return matched


def storm() -> list[Polygon]:
    """The storm, sized on the sample: each polygon first catches an equal share of SHARE,
    then all are scaled together until their union catches SHARE (they overlap)."""
    sample = data.build(SAMPLE)
    rng = np.random.default_rng(data.SEED + 7)
    centres = rng.choice(len(sample), POLYGONS, replace=False)
    target = round(SHARE * SAMPLE / POLYGONS)
    polygons = [
        towns.storm_polygon(
            sample.lon,
            sample.lat,
            target,
            vertices=VERTICES,
            seed=data.SEED + i,
            centre=(float(sample.lon[c]), float(sample.lat[c])),
        )
        for i, c in enumerate(centres.tolist())
    ]
    low, high = 1.0, 4.0
    for _ in range(24):
        middle = (low + high) / 2
        scaled = _scaled(polygons, sample.lon[centres], sample.lat[centres], middle)
        if len(_raw_each(scaled, sample.lon, sample.lat)) < SHARE * SAMPLE:
            low = middle
        else:
            high = middle
    return _scaled(polygons, sample.lon[centres], sample.lat[centres], high)


def _scaled(polygons: list[Polygon], x: np.ndarray, y: np.ndarray, factor: float) -> list[Polygon]:
    return [
        shapely.affinity.scale(p, factor, factor, origin=(float(cx), float(cy)))
        for p, cx, cy in zip(polygons, x, y, strict=True)
    ]


def _raw_each(polygons: list[BaseGeometry], lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Positions inside any polygon: numpy box compares, then contains_xy on what is left."""
    found = []
    for polygon in polygons:
        minx, miny, maxx, maxy = polygon.bounds
        near = np.flatnonzero((lon >= minx) & (lon <= maxx) & (lat >= miny) & (lat <= maxy))
        shapely.prepare(polygon)
        found.append(near[shapely.contains_xy(polygon, lon[near], lat[near])])
    return np.unique(np.concatenate(found)) + 1  # ids are positions + 1, as written


def _index(town: towns.Town) -> CustomerIndex:
    return CustomerIndex(
        pks=np.arange(1, len(town) + 1, dtype=np.int64),
        lon=town.lon,
        lat=town.lat,
        feeders=town.feeders,
        transformers=town.transformers,
    )


def _index_each(index: CustomerIndex, polygons: list[BaseGeometry]) -> np.ndarray:
    return np.unique(np.concatenate([index.within(p) for p in polygons]))


def _postgis(
    section: Section,
    case: str,
    town: towns.Town,
    polygons: list[Polygon],
    union: BaseGeometry,
    matched: int,
    repeats: int,
) -> dict[str, Any]:
    figures: dict[str, Any] = {"settings": list(CLUSTER_SETTINGS)}
    with postgres.Cluster(CLUSTER_SETTINGS) as cluster:
        url = cluster.create_database("bench")
        upgrade(url)
        started = time.perf_counter()
        data.write_postgres(url, town)
        loaded = time.perf_counter() - started
        section.add(case, "load into PostgreSQL", loaded, "s", "COPY, GiST index, VACUUM ANALYZE")
        size = cluster.psql("bench", "SELECT pg_total_relation_size('customers')")
        section.add(case, "customers table + indexes", int(size) / 2**20, "MB")
        figures.update(load_s=loaded, table_mb=int(size) / 2**20)
        engine = sa.create_engine(url)
        try:
            runs = (("serial", "0"), ("parallel default", "DEFAULT"))
            for label, workers in runs:
                figures[label] = _count(
                    section, case, engine, workers, label, polygons, union, repeats
                )
            figures["move_ties"] = _move_ties(section, case, engine, polygons, union)
            # Rows in the order of the GiST index: a match reads neighbouring heap pages.
            started = time.perf_counter()
            cluster.psql("bench", "CLUSTER customers USING ix_customers_geom; ANALYZE customers")
            clustered = time.perf_counter() - started
            section.add(case, "CLUSTER customers USING ix_customers_geom", clustered, "s")
            label = "serial, table clustered"
            figures[label] = _count(section, case, engine, "0", label, polygons, union, repeats)
        finally:
            engine.dispose()
    for label in ("serial", "parallel default", "serial, table clustered"):
        same = figures[label]["union_count"] == matched
        section.add(case, f"same count: PostGIS ({label}) vs index", same)
    return figures


def _count(
    section: Section,
    case: str,
    engine: sa.Engine,
    workers: str,
    label: str,
    polygons: list[Polygon],
    union: BaseGeometry,
    repeats: int,
) -> dict[str, Any]:
    """count_matching of the union (one statement) and of each polygon (200), in a session of
    its own (a session left open would block CLUSTER)."""
    with Session(engine) as session:
        session.execute(sa.text(f"SET max_parallel_workers_per_gather = {workers}"))
        whole = _timed(lambda _: postgis.count_matching(session, union), repeats)
        each = _timed(lambda _: _count_each(session, polygons), repeats)
    _row(section, case, f"(c) PostGIS count, the union, {label}", whole)
    _row(section, case, f"(c) PostGIS count, each polygon, {label}", each)
    return {"union_s": whole.figures(), "each_s": each.figures(), "union_count": whole.result}


def _move_ties(
    section: Section,
    case: str,
    engine: sa.Engine,
    polygons: list[Polygon],
    union: BaseGeometry,
) -> dict[str, Any]:
    """postgis.move_ties as planning would call it, each step its own committed transaction:
    the storm's incident tied to everyone in it, shrunk to half its polygons, grown back,
    then closed (area None: everyone released)."""
    half = shapely.union_all(polygons[: len(polygons) // 2])
    steps: list[tuple[str, BaseGeometry | None]] = [
        ("tie the storm", union),
        ("shrink to half", half),
        ("grow back", union),
        ("release all", None),
    ]
    figures: dict[str, Any] = {}
    with Session(engine) as session:
        session.execute(sa.text("SET max_parallel_workers_per_gather = 0"))
        session.add(_incident("storm"))
        session.commit()
        for name, area in steps:
            started = time.perf_counter()
            moved = postgis.move_ties(session, incident_id="storm", area=area, now=data.NOW)
            session.commit()
            took = time.perf_counter() - started
            note = f"gained {moved.gained:,}, lost {moved.lost:,}; serial, committed"
            section.add(case, f"(c) PostGIS move_ties: {name}", ms(took), "ms", note)
            figures[name] = {"s": took, "gained": moved.gained, "lost": moved.lost}
    return figures


def _incident(incident_id: str) -> Incident:
    return Incident(
        id=incident_id,
        source="bench",
        external_id=incident_id,
        kind="outage",
        status="active",
        feeders=[],
        transformers=[],
        started_at=data.NOW,
        version=1,
        affected_count=0,
        created_at=data.NOW,
        updated_at=data.NOW,
    )


def _count_each(session: Session, polygons: list[Polygon]) -> int:
    return sum(postgis.count_matching(session, p) for p in polygons)


class _Timed:
    def __init__(self, runs: list[float], result: Any) -> None:
        self.runs, self.result = runs, result
        self.median = statistics.median(runs)

    def figures(self) -> dict[str, Any]:
        return {"median": self.median, "runs": self.runs}


def _timed(
    fn: Callable[[Any], Any], repeats: int, setup: Callable[[], Any] = lambda: None
) -> _Timed:
    """fn(setup()) once to warm (page cache, buffers), then timed `repeats` times; setup is
    not timed. Areas come as fresh, unprepared copies each run, as a request brings them."""
    result = fn(setup()) if repeats > 1 else None
    runs = []
    for _ in range(max(repeats, 1)):
        argument = setup()
        started = time.perf_counter()
        result = fn(argument)
        runs.append(time.perf_counter() - started)
    return _Timed(runs, result)


def _fresh_copies(polygons: list[Polygon]) -> Callable[[], list[BaseGeometry]]:
    wkbs = [p.wkb for p in polygons]
    return lambda: [shapely.from_wkb(w) for w in wkbs]


def _fresh_copy(area: BaseGeometry) -> Callable[[], BaseGeometry]:
    wkb = area.wkb
    return lambda: shapely.from_wkb(wkb)


def _row(section: Section, case: str, metric: str, timed: _Timed, unit: str = "ms") -> None:
    value = timed.median if unit == "s" else ms(timed.median)
    runs = ", ".join(f"{ms(r):.0f}" for r in timed.runs)
    section.add(case, metric, value, unit, f"median of {len(timed.runs)}: {runs} ms")
