"""Planning on SQLite: IncidentService.upsert for a NEW incident (match, decide, render, write
notifications, outbox rows, ties and timeline events in one transaction), then its commit."""

from __future__ import annotations

import cProfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry import Polygon
from sqlalchemy import Table, func, insert, select

from bench import town as towns
from bench.common import (
    RssSampler,
    bench_settings,
    current_rss_mb,
    database_mb,
    fresh_database,
    peak_rss_mb,
    say,
    timed,
)
from bench.report import Section, ms, per_second
from outage_notify.customers.service import upsert_customers
from outage_notify.db import meta
from outage_notify.db.models import (
    Customer,
    IncidentCustomer,
    Notification,
    OutboxItem,
    PushSubscription,
    TimelineEvent,
)
from outage_notify.demo import add_town_subscriptions
from outage_notify.ingest.operator_api import incident_from_body
from outage_notify.matching.geometry import DEFAULT_MAX_VERTICES
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow

SOURCE = "operator"
DEMO_AFFECTED = 1_500
BULK_CHUNK = 20_000
RESULTS = Path(__file__).parent / "results"
PROFILED = "Run under cProfile (--profile): upsert times include the profiler's overhead."


@dataclass
class Upsert:
    """One measured upsert and what it wrote."""

    label: str
    affected: int
    upsert_s: float
    commit_s: float
    planned_customers: int
    by_kind: dict[str, int]
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total_s(self) -> float:
        return self.upsert_s + self.commit_s

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


# ---- the two cases -------------------------------------------------------------------------------


def run_demo(profile: bool = False) -> Section:
    section = Section("2a. Planning on SQLite: demo town")
    if profile:
        section.notes.append(PROFILED)
    records = towns.demo_records()
    town = towns.demo_town(records)
    with fresh_database("plan-demo") as url:
        runtime = Runtime.build(bench_settings(url))
        try:
            load_s = _load_demo(runtime, records)
            case = f"demo town ({len(town):,})"
            section.add(
                case,
                "load customers (upsert_customers)",
                load_s,
                "s",
                f"{per_second(len(records), load_s):,.0f} customers/s; + push subs",
            )
            section.add(case, "load CustomerIndex from SQLite", ms(_warm_index(runtime)), "ms")
            polygon = towns.storm_polygon(town.lon, town.lat, DEMO_AFFECTED)
            result = upsert_new(runtime, "demo", polygon, profile=profile)
            _report_upsert(section, case, result)
            section.figures["demo"] = _upsert_figures(result) | {"load_customers_s": load_s}
        finally:
            runtime.close()
    return section


def run_big(count: int, target: int, limit_s: float, profile: bool = False) -> Section:
    section = Section(f"2b. Planning on SQLite: synthetic town of {count:,}")
    if profile:
        section.notes.append(PROFILED)
    town = towns.synthetic_town(count)
    case = f"synthetic ({count:,})"
    with fresh_database("plan-big") as url:
        runtime = Runtime.build(bench_settings(url))
        try:
            load_s = _load_and_index(section, case, runtime, town)
            target = _affordable_target(runtime, town, target, limit_s, section, case)
            _measure_big(section, case, runtime, town, target, profile)
            section.add(case, "database size after", database_mb(url), "MB")
            section.figures["big"] |= {"load_customers_s": load_s, "database_mb": database_mb(url)}
        finally:
            runtime.close()
    _big_notes(section, town)
    return section


def _load_and_index(section: Section, case: str, runtime: Runtime, town: towns.Town) -> float:
    load_s = _load_synthetic(runtime, town)
    rate = per_second(len(town), load_s)
    section.add(
        case,
        "load customers (bulk insert)",
        load_s,
        "s",
        f"{rate:,.0f} customers/s; Core insert on the model's table",
    )
    rss_before = current_rss_mb()
    section.add(case, "load CustomerIndex from SQLite", ms(_warm_index(runtime)), "ms")
    section.add(
        case,
        "RSS added by loading the index",
        _minus(current_rss_mb(), rss_before),
        "MB",
        "resident after load minus before",
    )
    return load_s


def _measure_big(
    section: Section, case: str, runtime: Runtime, town: towns.Town, target: int, profile: bool
) -> None:
    polygon = towns.storm_polygon(town.lon, town.lat, target)
    rss_before = current_rss_mb()
    with RssSampler() as sampler:
        result = upsert_new(runtime, "big", polygon, profile=profile)
    _report_upsert(section, case, result)
    _report_memory(section, case, rss_before, sampler.peak_mb)
    section.figures["big"] = _upsert_figures(result) | {
        "customers": len(town),
        "source": town.source,
        "rss_before_upsert_mb": rss_before,
        "rss_peak_during_upsert_mb": sampler.peak_mb,
        "peak_rss_process_mb": peak_rss_mb(),
    }


def _big_notes(section: Section, town: towns.Town) -> None:
    section.notes.append(f"Customers: {town.source}.")
    section.notes.append(
        "A probe incident (1/20 of the target, elsewhere in town) is planned first to predict "
        "the big run's time; the big run is cut down if the prediction passes --limit."
    )
    section.notes.append(
        "Synthetic customers (with a push subscription for everyone who chose push and 12 % "
        "of those who left channels open) are bulk-inserted with SQLAlchemy "
        f"Core executemany of Customer.__table__.insert() in chunks of {BULK_CHUNK:,}, not "
        "upsert_customers (which SELECTs each chunk's ids first and goes through the ORM's bulk "
        "path); the customers' revision is bumped as upsert_customers does."
    )
    section.notes.append(
        "The whole upsert is one transaction: SQLite's write lock (BEGIN IMMEDIATE) is held for "
        "the 'upsert + commit' time, and the first message can leave only after the commit."
    )


# ---- loading customers ---------------------------------------------------------------------------


def _load_demo(runtime: Runtime, records: list[Any]) -> float:
    """As `outage-notify demo` loads the town: upsert_customers, then the push subscriptions."""
    seconds, _ = timed(lambda: _upsert_demo(runtime, records))
    say(f"planning: demo town loaded in {seconds:.2f} s")
    return seconds


def _upsert_demo(runtime: Runtime, records: list[Any]) -> None:
    now = utcnow()
    with runtime.transaction() as session:
        upsert_customers(session, records=records, now=now)
        add_town_subscriptions(session, now=now)


def _load_synthetic(runtime: Runtime, town: towns.Town) -> float:
    people = towns.profiles(len(town))
    say(f"planning: bulk-inserting {len(town):,} customers")
    seconds, _ = timed(lambda: _bulk_insert(runtime, town, people))
    say(f"planning: inserted in {seconds:.1f} s")
    return seconds


def _bulk_insert(runtime: Runtime, town: towns.Town, people: towns.Profiles) -> None:
    now = utcnow()
    with runtime.transaction() as session:
        # Core executemany on the models' tables: the ORM's bulk path costs 2.5 times as much.
        connection = session.connection()
        for rows in towns.customer_rows(town, people, now, BULK_CHUNK):
            connection.execute(insert(table_of(Customer)), rows)
        _check_dense_ids(session, len(town))
        subscriptions = [_push_row(int(i) + 1, now) for i in np.flatnonzero(people.has_push)]
        for start in range(0, len(subscriptions), BULK_CHUNK):
            chunk = subscriptions[start : start + BULK_CHUNK]
            connection.execute(insert(table_of(PushSubscription)), chunk)
        meta.bump_customers_revision(session)


def table_of(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


def _check_dense_ids(session: Any, count: int) -> None:
    """Push subscriptions are tied by position: ids must be 1..count in insertion order."""
    low, high, n = session.execute(
        select(func.min(Customer.id), func.max(Customer.id), func.count())
    ).one()
    if (low, high, n) != (1, count, count):
        raise RuntimeError(f"customer ids not dense: {low}..{high} for {n}")


def _push_row(customer_pk: int, now: datetime) -> dict[str, Any]:
    return {
        "customer_pk": customer_pk,
        "endpoint": f"https://push.example.net/bench/{customer_pk}",
        "p256dh": "B" + "x" * 86,
        "auth": "a" * 22,
        "created_at": now,
    }


def _warm_index(runtime: Runtime) -> float:
    """The process's customer index, loaded as the first match of a process would load it."""
    with runtime.transaction() as session:
        seconds, index = timed(lambda: runtime.customer_index.get(session))
    say(f"planning: customer index of {len(index):,} loaded in {seconds:.2f} s")
    return seconds


# ---- one upsert ----------------------------------------------------------------------------------


def incident_body(external_id: str, polygon: Polygon) -> dict[str, Any]:
    """A new storm outage as an operator posts it: area, cause, an ETR in three hours."""
    now = utcnow().replace(microsecond=0)
    return {
        "external_id": external_id,
        "kind": "unplanned",
        "status": "detected",
        "cause": "storm damage",
        "area": towns.geojson(polygon),
        "etr": (now + timedelta(hours=3)).isoformat(),
        "started_at": (now - timedelta(minutes=5)).isoformat(),
    }


def upsert_new(runtime: Runtime, label: str, polygon: Polygon, *, profile: bool) -> Upsert:
    """IncidentService.upsert of a new incident, then the commit, each timed."""
    record = incident_from_body(
        incident_body(f"BENCH-{label.upper()}-{utcnow():%H%M%S%f}", polygon),
        max_vertices=DEFAULT_MAX_VERTICES,
    )
    profiler = cProfile.Profile() if profile else None
    session = runtime.sessions()
    try:
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        outcome = runtime.incidents.upsert(session, source=SOURCE, record=record, now=utcnow())
        upserted = time.perf_counter()
        session.commit()
        committed = time.perf_counter()
        if profiler:
            profiler.disable()
    finally:
        session.close()
    if profiler:
        _dump_profile(profiler, label)
    result = Upsert(
        label=label,
        affected=outcome.incident.affected_count,
        upsert_s=upserted - started,
        commit_s=committed - upserted,
        planned_customers=outcome.plan.customers,
        by_kind=dict(outcome.plan.by_kind),
    )
    result.rows = rows_written(runtime, outcome.incident.id)
    say(f"planning: {label}: {result.affected:,} affected in {result.total_s:.2f} s")
    return result


def _dump_profile(profiler: cProfile.Profile, label: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"profile-planning-{label}.pstats"
    profiler.dump_stats(path)
    say(f"planning: cProfile of the {label} upsert written to {path}")


def rows_written(runtime: Runtime, incident_id: str) -> dict[str, int]:
    def count(query: Any) -> int:
        return int(session.scalar(query) or 0)

    with runtime.transaction() as session:
        return {
            "notifications": count(
                select(func.count()).where(Notification.incident_id == incident_id)
            ),
            "outbox": count(
                select(func.count())
                .select_from(OutboxItem)
                .join(Notification, Notification.id == OutboxItem.notification_id)
                .where(Notification.incident_id == incident_id)
            ),
            "incident_customers": count(
                select(func.count()).where(IncidentCustomer.incident_id == incident_id)
            ),
            "timeline_events": count(
                select(func.count()).where(TimelineEvent.incident_id == incident_id)
            ),
        }


# ---- how big a run fits --------------------------------------------------------------------------


def _affordable_target(
    runtime: Runtime, town: towns.Town, target: int, limit_s: float, section: Section, case: str
) -> int:
    """A small probe incident elsewhere in town predicts the big one; if the prediction passes
    the limit, the big run is cut to what fits, and the table says so."""
    probe_count = max(1_000, target // 20)
    centre = (float(np.quantile(town.lon, 0.3)), float(np.quantile(town.lat, 0.3)))
    probe_area = towns.storm_polygon(town.lon, town.lat, probe_count, centre=centre, seed=7)
    probe = upsert_new(runtime, "probe", probe_area, profile=False)
    predicted = probe.total_s * target / max(probe.affected, 1)
    section.add(
        case,
        "probe upsert+commit",
        probe.total_s,
        "s",
        f"{probe.affected:,} affected; predicts {predicted:.0f} s for {target:,}",
    )
    if predicted <= limit_s:
        return target
    fitted = max(probe_count, int(probe.affected * limit_s / probe.total_s * 0.8) // 1000 * 1000)
    section.notes.append(
        f"Asked for {target:,} affected, but the probe predicted {predicted:.0f} s "
        f"(limit {limit_s:.0f} s): measured {fitted:,} instead."
    )
    return fitted


# ---- reporting -----------------------------------------------------------------------------------


def _report_upsert(section: Section, case: str, result: Upsert) -> None:
    rows = result.rows
    section.add(case, "affected (matched)", result.affected, "customers")
    section.add(
        case,
        "upsert (NEW incident)",
        result.upsert_s,
        "s",
        f"{per_second(result.affected, result.upsert_s):,.0f} customers/s",
    )
    section.add(case, "commit", ms(result.commit_s), "ms")
    section.add(case, "upsert + commit", result.total_s, "s")
    section.add(case, "rows written", result.total_rows, "rows", _row_breakdown(rows))
    section.add(
        case,
        "write rate",
        per_second(result.total_rows, result.total_s),
        "rows/s",
        "all rows of the transaction / (upsert + commit)",
    )
    section.add(
        case,
        "messages planned",
        rows.get("notifications", 0),
        "notifications",
        ", ".join(f"{k} {v:,}" for k, v in sorted(result.by_kind.items())),
    )


def _row_breakdown(rows: dict[str, int]) -> str:
    return ", ".join(f"{name} {n:,}" for name, n in rows.items()) + ", revisions 1, incidents 1"


def _report_memory(section: Section, case: str, before: float | None, during: float | None) -> None:
    section.add(case, "RSS before upsert", before, "MB", "/proc/self/statm")
    section.add(case, "peak RSS during upsert", during, "MB", "sampled every 50 ms")
    section.add(
        case,
        "peak RSS of the process",
        peak_rss_mb(),
        "MB",
        "resource.getrusage ru_maxrss (whole run: town, load, index, upsert)",
    )


def _minus(after: float | None, before: float | None) -> float | None:
    return after - before if after is not None and before is not None else None


def _upsert_figures(result: Upsert) -> dict[str, Any]:
    return {
        "affected": result.affected,
        "upsert_s": result.upsert_s,
        "commit_s": result.commit_s,
        "total_s": result.total_s,
        "planned_customers": result.planned_customers,
        "by_kind": result.by_kind,
        "rows": result.rows,
        "rows_per_s": per_second(result.total_rows, result.total_s),
        "customers_per_s": per_second(result.affected, result.total_s),
    }
