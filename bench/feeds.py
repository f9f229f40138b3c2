"""9. A storm from the outage feed: 500 outages in one canonical GeoJSON snapshot (a file://
feed), polled by the real `poll-outages` job (run_job with the runtime's incident service, as
the scheduler runs it) and planned by the runtime's planning worker, on SQLite and on
PostgreSQL + PostGIS over the synthetic town.

Timed, each from a database with the customers loaded and nothing else:
  1. the first poll: fetch + parse + 500 new incidents, each upserted with its set-based count;
  2. planning all of them to done (runtime.planner.drain()), and the messages written;
  3. a second snapshot, 50 ETRs moved, 25 outages gone, 25 new: the poll, then its planning;
  4. an unchanged poll (same file: a 304): the first one restores the 25 gone outages
     (RESTORE_AFTER_POLLS = 2) and their planning is timed too; the next has nothing to do.
Against POLL_SECONDS (default 60 s): a storm is diffed and planned "within one poll period"
when poll + planning take less than it.

The outages: ~70 % Points (their area: the POINT_RADIUS_METERS circle), ~30 % irregular
polygons a few hundred metres to a few km across, each centred on a customer (so they fall
where customers are), the polygons scaled together so that the snapshot covers about
COVERAGE of the customers. Every outage started well before CONFIRM_SECONDS ago, so each is
confirmed and told at once.
"""

from __future__ import annotations

import cProfile
import json
import math
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon, mapping, shape
from sqlalchemy import distinct, func, select

from bench import data, postgres, services
from bench import town as towns
from bench.common import bench_settings, fresh_database, say, timed
from bench.report import Section
from outage_notify.config import Settings
from outage_notify.db.models import IncidentCustomer, Notification
from outage_notify.ingest.outage_feed import parse_outage_feed
from outage_notify.runtime import Runtime
from outage_notify.scheduler.jobs import JOBS, run_job
from outage_notify.timeutil import utcnow

OUTAGES = 500  # in the first snapshot; the second moves a tenth's ETRs, drops and adds a 20th
POINT_RADIUS_M = 150.0  # POINT_RADIUS_METERS for the bench (see the notes: default 300 m)
POLL_SECONDS = 60.0  # the default of POLL_SECONDS, which the bench keeps
POINT_SHARE = 0.70
COVERAGE = 0.075  # of the customers, the snapshot's outages together (the brief: 5–10 %)
POLYGON_METRES = (400.0, 4_000.0)  # a polygon's long axis, before the common scale
SAMPLE = 100_000  # customers the coverage is calibrated on (a share: the town's size does not
# change it)
CELL_DEGREES = (250 / 55_600, 250 / 110_574)  # ~250 m at 60° N: lon, lat
PLAN_TIMEOUT_S = 3_600.0
RESULTS = Path(__file__).parent / "results"
CAUSES = ("storm damage", "fallen tree", "equipment failure", "under investigation", "lightning")


@dataclass
class Outage:
    """One outage of the snapshot, as the bench made it."""

    id: str
    geometry: dict[str, Any]
    started_at: datetime
    etr: datetime
    cause: str

    def feature(self) -> dict[str, Any]:
        return {
            "type": "Feature",
            "id": self.id,
            "geometry": self.geometry,
            "properties": {
                "status": "detected",
                "cause": self.cause,
                "started_at": self.started_at.isoformat(),
                "etr": self.etr.isoformat(),
                "crew_status": "crew assigned",
            },
        }


@dataclass(frozen=True)
class Mix:
    """How many outages the first snapshot has, and how the second differs from it."""

    outages: int
    changed: int
    gone: int
    new: int

    @classmethod
    def of(cls, outages: int) -> Mix:
        return cls(outages, outages // 10, outages // 20, outages // 20)


@dataclass
class Storm:
    """The snapshots' outages, and the share of customers the first one covers (calibrated)."""

    mix: Mix
    first: list[Outage]
    second: list[Outage]
    covered_share: float
    polygon_scale: float
    points: int
    polygons: int


@dataclass
class Step:
    """One poll and the planning after it."""

    poll_s: float
    plan_s: float
    result: dict[str, Any]
    messages: int  # notifications written by this poll's planning

    @property
    def total_s(self) -> float:
        return self.poll_s + self.plan_s


@dataclass
class Case:
    backend: str
    customers: int
    load_s: float
    warm_s: float
    affected: int = 0
    steps: dict[str, Step] = field(default_factory=dict)


# ---- the storm -----------------------------------------------------------------------------


def make_storm(
    town: towns.Town, mix: Mix, *, now: datetime, point_radius_m: float, seed: int
) -> Storm:
    """The first snapshot (mix.outages) and the second (mix.changed ETRs moved, mix.gone
    removed, mix.new added), deterministic for a town, `now` and seed."""
    rng = np.random.default_rng(seed)
    total = mix.outages + mix.new
    kinds = rng.random(total) < POINT_SHARE
    centres = _centres(town, total, rng)
    shapes = [_polygon_shape(rng) for _ in range(total)]
    sample = _sample(town, rng)
    circles = _circle_areas(town, centres, kinds, point_radius_m)
    scale = _calibrate(town, centres[: mix.outages], kinds, shapes, circles, sample)
    outages = []
    for n in range(total):
        lon, lat = float(town.lon[centres[n]]), float(town.lat[centres[n]])
        geometry: dict[str, Any] = {"type": "Point", "coordinates": [lon, lat]}
        if not kinds[n]:
            geometry = dict(mapping(_polygon(shapes[n], scale, lon, lat)))
        outages.append(
            Outage(
                id=f"OMS-{n + 1:04d}",
                geometry=_as_lists(geometry),
                started_at=now - timedelta(minutes=int(rng.integers(10, 120))),
                etr=now + timedelta(minutes=int(rng.integers(60, 360))),
                cause=CAUSES[int(rng.integers(0, len(CAUSES)))],
            )
        )
    first = outages[: mix.outages]
    order = rng.permutation(mix.outages).tolist()
    changed, gone = set(order[: mix.changed]), set(order[mix.changed : mix.changed + mix.gone])
    second = [
        _later_etr(outage, rng) if n in changed else outage
        for n, outage in enumerate(first)
        if n not in gone
    ] + outages[mix.outages :]
    areas = _areas(town, centres[: mix.outages], kinds, shapes, circles, scale)
    covered = _covered(areas, town.lon[sample], town.lat[sample])
    return Storm(
        mix=mix,
        first=first,
        second=second,
        covered_share=float(covered.mean()),
        polygon_scale=scale,
        points=int(kinds[: mix.outages].sum()),
        polygons=int(mix.outages - kinds[: mix.outages].sum()),
    )


def feed_body(outages: list[Outage]) -> bytes:
    features = [outage.feature() for outage in outages]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def _later_etr(outage: Outage, rng: np.random.Generator) -> Outage:
    moved = outage.etr + timedelta(minutes=int(rng.integers(30, 120)))
    return Outage(outage.id, outage.geometry, outage.started_at, moved, outage.cause)


def _polygon_shape(rng: np.random.Generator) -> np.ndarray:
    """A ring about (0, 0) in metres: a narrow ellipse (a storm's track along a line) of random
    heading, its radius rippled, its long axis drawn log-uniformly from POLYGON_METRES."""
    vertices = 24
    theta = np.linspace(0.0, 2 * math.pi, vertices, endpoint=False)
    radius = 1.0 + 0.15 * np.sin(3 * theta + rng.uniform(0, 2 * math.pi))
    radius *= rng.uniform(0.9, 1.1, vertices)
    x, y = radius * np.cos(theta), rng.uniform(0.15, 0.5) * radius * np.sin(theta)
    turn = rng.uniform(0, math.pi)
    low, high = np.log(POLYGON_METRES)
    half_axis = float(np.exp(rng.uniform(low, high))) / 2
    return half_axis * np.column_stack(
        [x * math.cos(turn) - y * math.sin(turn), x * math.sin(turn) + y * math.cos(turn)]
    )


def _polygon(unit: np.ndarray, scale: float, lon: float, lat: float) -> Polygon:
    per_lon = 111_320.0 * math.cos(math.radians(lat))
    return Polygon(
        np.column_stack([lon + unit[:, 0] * scale / per_lon, lat + unit[:, 1] * scale / 110_574.0])
    )


def _circle_areas(
    town: towns.Town, centres: np.ndarray, kinds: np.ndarray, radius_m: float
) -> dict[int, Any]:
    """The points' areas as the service makes them: the canonical parser's circles."""
    features = [
        {
            "type": "Feature",
            "id": str(n),
            "geometry": {
                "type": "Point",
                "coordinates": [float(town.lon[centres[n]]), float(town.lat[centres[n]])],
            },
            "properties": {"status": "detected"},
        }
        for n in np.flatnonzero(kinds).tolist()
    ]
    body = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    parsed = parse_outage_feed(body, point_radius_m=radius_m)
    return {int(o.record.external_id): shape(o.record.area) for o in parsed.outages}


def _centres(town: towns.Town, count: int, rng: np.random.Generator) -> np.ndarray:
    """Customers to centre outages on: a random customer of a random occupied 250 m cell.
    Faults come per km of line, not per customer: weighted by customers, every outage would
    fall in the densest blocks (300 m circles there alone covered 14 % of the town)."""
    cell = np.round(town.lon / CELL_DEGREES[0]) * 1e6 + np.round(town.lat / CELL_DEGREES[1])
    _, first, inverse = np.unique(cell, return_index=True, return_inverse=True)
    chosen = rng.choice(len(first), count, replace=len(first) < count)
    order = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[order], chosen)
    sizes = np.bincount(inverse)[chosen]
    return order[starts + (rng.random(count) * sizes).astype(np.int64)]


def _sample(town: towns.Town, rng: np.random.Generator) -> np.ndarray:
    if len(town) <= SAMPLE:
        return np.arange(len(town))
    return rng.choice(len(town), SAMPLE, replace=False)


def _areas(
    town: towns.Town,
    centres: np.ndarray,
    kinds: np.ndarray,
    shapes: list[np.ndarray],
    circles: dict[int, Any],
    scale: float,
) -> list[Any]:
    return [
        circles[n]
        if kinds[n]
        else _polygon(shapes[n], scale, float(town.lon[centres[n]]), float(town.lat[centres[n]]))
        for n in range(len(centres))
    ]


def _covered(areas: list[Any], lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Which of the points (lon, lat) some area holds."""
    hit = np.zeros(len(lon), dtype=bool)
    for area in areas:
        minx, miny, maxx, maxy = area.bounds
        where = np.flatnonzero((lon >= minx) & (lon <= maxx) & (lat >= miny) & (lat <= maxy))
        shapely.prepare(area)
        hit[where] |= shapely.intersects_xy(area, lon[where], lat[where])
    return hit


def _calibrate(
    town: towns.Town,
    centres: np.ndarray,
    kinds: np.ndarray,
    shapes: list[np.ndarray],
    circles: dict[int, Any],
    sample: np.ndarray,
) -> float:
    """The common scale of the polygons that makes the first snapshot cover COVERAGE of the
    sample (bisection on a log scale; the points' circles are fixed)."""
    lon, lat = town.lon[sample], town.lat[sample]
    low, high = math.log(0.05), math.log(20.0)
    for _ in range(14):
        middle = (low + high) / 2
        areas = _areas(town, centres, kinds, shapes, circles, math.exp(middle))
        if _covered(areas, lon, lat).mean() < COVERAGE:
            low = middle
        else:
            high = middle
    return math.exp(high)


def _as_lists(geometry: dict[str, Any]) -> dict[str, Any]:
    """shapely's mapping() gives tuples; a feed has JSON lists."""
    return json.loads(json.dumps(geometry))


# ---- the measurement -------------------------------------------------------------------------


BACKENDS = ("postgresql", "sqlite")


def run(
    customers: int,
    profile: bool = False,
    outages: int = OUTAGES,
    backends: tuple[str, ...] = BACKENDS,
) -> Section:
    """Each back end over one town of `customers`; profile: the first poll and its planning
    under cProfile (written to bench/results/, the top printed on stderr)."""
    mix = Mix.of(outages)
    section = Section(
        f"9. Feed storm: {mix.outages} outages polled and planned ({customers:,} customers)"
    )
    say(f"feeds: building {customers:,} synthetic customers")
    town = data.build(customers)
    now = utcnow().replace(microsecond=0)
    storm = make_storm(town, mix, now=now, point_radius_m=POINT_RADIUS_M, seed=data.SEED)
    say(
        f"feeds: {storm.points} points, {storm.polygons} polygons covering "
        f"{storm.covered_share:.1%} of the customers"
    )
    cases = []
    if "postgresql" in backends:
        if (why := postgres.available()) is None:
            with postgres.Cluster(services.CLUSTER_SETTINGS) as cluster:
                cases.append(_postgres_case(cluster, town, storm, profile))
        else:
            section.notes.append(f"PostgreSQL not measured: {why}")
    if "sqlite" in backends:
        cases.append(_sqlite_case(town, storm, profile))
    for case in cases:
        _report(section, case, mix)
    section.figures["feeds"] = {
        "customers": customers,
        "storm": {
            **mix.__dict__,
            "points": storm.points,
            "polygons": storm.polygons,
            "covered_share": storm.covered_share,
            "polygon_scale": storm.polygon_scale,
        },
        "poll_seconds": POLL_SECONDS,
        "cases": [_figures(case) for case in cases],
    }
    section.notes += _notes(storm)
    return section


def _settings(url: str, feed_url: str) -> Settings:
    return bench_settings(
        url,
        outage_feeds=[feed_url],
        point_radius_meters=POINT_RADIUS_M,
        poll_seconds=POLL_SECONDS,
        scheduler_enabled=False,
    )


def _postgres_case(
    cluster: postgres.Cluster, town: towns.Town, storm: Storm, profile: bool
) -> Case:
    started = time.perf_counter()
    url = services.postgres_database(cluster, "feeds", town)
    load_s = time.perf_counter() - started
    say(f"feeds: PostgreSQL loaded in {load_s:.0f} s")
    return _measure("postgresql", url, town, storm, load_s, profile)


def _sqlite_case(town: towns.Town, storm: Storm, profile: bool) -> Case:
    with fresh_database("feeds") as url:
        load_s, _ = timed(lambda: data.write_sqlite(url, town))
        say(f"feeds: SQLite loaded in {load_s:.0f} s")
        return _measure("sqlite", url, town, storm, load_s, profile)


def _measure(
    backend: str, url: str, town: towns.Town, storm: Storm, load_s: float, profile: bool
) -> Case:
    with tempfile.TemporaryDirectory(prefix="outage-bench-feed-") as directory:
        feed = Path(directory) / "outages.geojson"
        feed.write_bytes(feed_body(storm.first))
        runtime = Runtime.build(_settings(url, feed.as_uri()))
        try:
            # The service's index is warm before a storm (serve warms it at start).
            warm_s, _ = timed(runtime.warm_index)
            case = Case(backend, len(town), load_s, warm_s)
            label = f"feeds {backend}"
            case.steps["first"] = _step(runtime, f"{label}: first poll", profile, backend)
            case.affected = _affected(runtime)
            _write_later(feed, feed_body(storm.second))
            case.steps["second"] = _step(runtime, f"{label}: second poll", False, backend)
            case.steps["unchanged"] = _step(runtime, f"{label}: unchanged poll", False, backend)
            case.steps["idle"] = _step(runtime, f"{label}: unchanged again", False, backend)
        finally:
            runtime.close()
    return case


def _write_later(path: Path, body: bytes) -> None:
    """A new snapshot the file feed will not take for the old one: its validators are the
    file's mtime (ns) and size, so the mtime is moved on explicitly."""
    before = path.stat().st_mtime_ns
    path.write_bytes(body)
    stamp = max(path.stat().st_mtime_ns, before + 1_000_000_000)
    os.utime(path, ns=(stamp, stamp))


def _step(runtime: Runtime, label: str, profile: bool, backend: str) -> Step:
    ctx = runtime.job_context("bench")
    before = _messages(runtime)
    poll_profile = cProfile.Profile() if profile else None
    started = time.perf_counter()
    with _profiled(poll_profile):
        outcome = run_job(JOBS["poll-outages"], ctx)
    polled = time.perf_counter()
    if not outcome.ok or outcome.result is None:
        raise RuntimeError(f"{label}: poll-outages failed: {outcome.error}")
    plan_profile = cProfile.Profile() if profile else None
    with _profiled(plan_profile):
        runtime.planner.drain(timeout=PLAN_TIMEOUT_S)
    planned = time.perf_counter()
    if poll_profile and plan_profile:
        _dump_profile(poll_profile, f"{backend}-poll")
        _dump_profile(plan_profile, f"{backend}-planning")
    result = dict(outcome.result["feeds"][0])
    if result.get("error"):
        raise RuntimeError(f"{label}: the feed was not read: {result['error']}")
    step = Step(polled - started, planned - polled, result, _messages(runtime) - before)
    say(f"{label}: poll {step.poll_s:.2f} s, planning {step.plan_s:.2f} s, {result}")
    return step


@contextmanager
def _profiled(profiler: cProfile.Profile | None) -> Iterator[None]:
    if profiler is None:
        yield
        return
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()


def _dump_profile(profiler: cProfile.Profile, label: str) -> None:
    """The profile to bench/results/, its top on stderr (stdout holds only the table)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"profile-feeds-{label}.pstats"
    profiler.dump_stats(path)
    say(f"feeds: cProfile of the first {label} written to {path}")
    stats = pstats.Stats(str(path), stream=sys.stderr)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(15)


def _messages(runtime: Runtime) -> int:
    with runtime.reading() as session:
        return int(session.scalar(select(func.count()).select_from(Notification)) or 0)


def _affected(runtime: Runtime) -> int:
    """Distinct customers the storm's incidents hold as affected."""
    with runtime.reading() as session:
        query = select(func.count(distinct(IncidentCustomer.customer_pk))).where(
            IncidentCustomer.affected.is_(True)
        )
        return int(session.scalar(query) or 0)


# ---- the table -------------------------------------------------------------------------------


def step_labels(mix: Mix) -> dict[str, str]:
    return {
        "first": f"1. first poll: {mix.outages} new",
        "second": f"3. second poll: {mix.changed} ETRs moved, {mix.gone} gone, {mix.new} new",
        "unchanged": f"4a. unchanged poll (304): {mix.gone} restored",
        "idle": "4b. unchanged poll (304): nothing to do",
    }


def _report(section: Section, case: Case, mix: Mix) -> None:
    label = f"{case.backend}, {case.customers:,}"
    section.add(label, "load customers", case.load_s, "s")
    section.add(label, "customer index warmed (before the polls)", case.warm_s, "s")
    section.add(
        label,
        "customers affected (distinct)",
        case.affected,
        "",
        f"{case.affected / case.customers:.1%} of the town",
    )
    for key, step in case.steps.items():
        name = step_labels(mix)[key]
        section.add(label, f"{name}: poll", step.poll_s, "s", _result_note(step.result))
        section.add(
            label,
            f"{name}: planning to done",
            step.plan_s,
            "s",
            f"{step.messages:,} messages written",
        )
        fits = "fits" if step.total_s < POLL_SECONDS else "DOES NOT FIT"
        section.add(
            label,
            f"{name}: poll + planning",
            step.total_s,
            "s",
            f"{fits} in POLL_SECONDS {POLL_SECONDS:.0f} s",
        )


def _result_note(result: dict[str, Any]) -> str:
    keys = ("created", "changed", "restored", "absent", "rejected")
    said = [f"{key} {result[key]}" for key in keys if result.get(key)]
    if result.get("unchanged"):
        said.insert(0, "304")
    return ", ".join(said) or "nothing changed"


def _figures(case: Case) -> dict[str, Any]:
    return {
        "backend": case.backend,
        "customers": case.customers,
        "load_s": case.load_s,
        "warm_s": case.warm_s,
        "affected": case.affected,
        "steps": {
            key: {
                "poll_s": step.poll_s,
                "plan_s": step.plan_s,
                "total_s": step.total_s,
                "messages": step.messages,
                "fits_poll_period": step.total_s < POLL_SECONDS,
                "result": step.result,
            }
            for key, step in case.steps.items()
        },
    }


def _notes(storm: Storm) -> list[str]:
    return [
        f"Feed: one canonical GeoJSON snapshot as a file:// feed; {storm.points} Points (area: "
        f"the POINT_RADIUS_METERS circle, set to {POINT_RADIUS_M:.0f} m here: at the default "
        f"300 m, 350 points alone covered ~11 % of the town) and {storm.polygons} irregular "
        f"24-vertex polygons ({POLYGON_METRES[0] * storm.polygon_scale:,.0f}–"
        f"{POLYGON_METRES[1] * storm.polygon_scale:,.0f} m long), centred on a customer of a "
        f"random occupied 250 m cell, together covering {storm.covered_share:.1%} of the "
        "customers; started 10–120 min ago (confirmed at once), ETR 1–6 h ahead.",
        "poll = run_job('poll-outages') in-process as the scheduler runs it (fetch, parse, "
        "diff, one transaction per changed item, absences); planning = runtime.planner.drain() "
        "after it (PLANNING_CHUNK default). Customer index warmed before the first poll, as "
        "a running service has it. Dispatcher off: messages written, not sent.",
        f"A step fits when poll + planning < POLL_SECONDS ({POLL_SECONDS:.0f} s, the default): "
        "the next poll would find the storm diffed and planned. RESTORE_AFTER_POLLS 2: the "
        f"{storm.mix.gone} outages gone from the second snapshot are restored at the next "
        "poll (4a).",
    ]
