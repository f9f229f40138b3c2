"""8b. The engine as an operator sees it: a storm posted to a running `outage-notify serve`
(API, planning worker and dispatcher in one process, a real HTTP request over 127.0.0.1), timed
from the moment the POST is sent to

  - the HTTP answer (the incident recorded with its affected count and a planning job),
  - the first SMS answered by the Twilio stand-in (its own process, answering at once),
  - the planning job's state `done` (every affected customer planned; polled in the database
    every 50 ms, a read that costs the service nothing),

on PostgreSQL + PostGIS and on SQLite (the in-memory index). The customers are loaded once per
back end; each case starts from a copy of that database with nothing planned, and a fresh
serve process that has first answered a small warm-up incident.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench import data, postgres, services
from bench import town as towns
from bench.common import say
from bench.planning import incident_body
from bench.report import Section, ms, per_second
from outage_notify.db.migrate import upgrade

POLL_S = 0.05
WARM_UP_AFFECTED = 20
TIMEOUT_S = 1800.0
TARGETS = {"post_ms": 200.0, "first_s": 1.0, "planned_500k_s": 15.0}


@dataclass
class Case:
    backend: str
    customers: int
    affected_target: int
    affected: int
    post_ms: float
    planning_in_answer: str
    first_s: float | None
    planned_s: float
    messages_planned: int
    sent_by_done: int
    serve_peak_mb: float | None
    load_before: float | None

    @property
    def label(self) -> str:
        return f"{self.backend}, {self.affected_target:,} of {self.customers:,}"


def run(customers: int, on_postgres: tuple[int, ...], on_sqlite: tuple[int, ...]) -> Section:
    """`on_postgres` and `on_sqlite`: the affected counts to post on each back end."""
    section = Section(
        f"8b. Engine: POST → answer, first SMS, all planned ({customers:,} customers)"
    )
    say(f"engine: building {customers:,} synthetic customers")
    town = data.build(customers)
    areas = {n: _area(town, n) for n in sorted({*on_postgres, *on_sqlite})}
    cases: list[Case] = []
    with services.twilio_stand_in() as twilio:
        if on_postgres:
            cases += _postgres_cases(town, {n: areas[n] for n in on_postgres}, twilio)
        if on_sqlite:
            cases += _sqlite_cases(town, {n: areas[n] for n in on_sqlite}, twilio)
    for case in cases:
        _report(section, case)
    section.figures["engine"] = [case.__dict__ | {"label": case.label} for case in cases]
    section.notes += [
        "serve = `python -m outage_notify serve` subprocess (API + planning worker + dispatcher "
        "threads, scheduler on, default settings: PLANNING_CHUNK 2000, DISPATCH_THREADS 8, "
        "SMS_CONCURRENCY 8); POST over real HTTP (urllib) to it on 127.0.0.1.",
        "SMS to the Twilio stand-in (own process, answers at once); email and push have no "
        "provider configured, so they go to the dev sink inside the service.",
        "Area: one 100-vertex storm polygon around the region's median point, scaled to catch "
        "the target count. 'all planned' = planning_jobs.state 'done', polled in the database "
        f"every {POLL_S * 1000:.0f} ms. Each case: a fresh copy of the loaded database, a fresh "
        f"serve that first answered a {WARM_UP_AFFECTED}-customer warm-up incident.",
        f"Targets: POST < {TARGETS['post_ms']:.0f} ms; first message < {TARGETS['first_s']:.0f} "
        f"s; 500k planned < {TARGETS['planned_500k_s']:.0f} s on PostgreSQL. 2 shared cores: "
        "load average noted per case.",
    ]
    return section


def _area(town: towns.Town, target: int) -> Any:
    say(f"engine: storm polygon for {target:,}")
    return towns.storm_polygon(town.lon, town.lat, target)


def _warm_area(town: towns.Town) -> Any:
    north = int(np.argmax(town.lat))
    centre = (float(town.lon[north]), float(town.lat[north]))
    return towns.storm_polygon(town.lon, town.lat, WARM_UP_AFFECTED, centre=centre, seed=3)


def _postgres_cases(
    town: towns.Town, areas: dict[int, Any], twilio: services.TwilioProcess
) -> list[Case]:
    cases = []
    with postgres.Cluster(services.CLUSTER_SETTINGS) as cluster:
        services.postgres_database(cluster, "loaded", town)
        for target, area in areas.items():
            name = f"case_{target}"
            url = services.copy_database(cluster, "loaded", name)
            cases.append(_case("postgresql", url, town, target, area, twilio))
            services.drop_database(cluster, name)
    return cases


def _sqlite_cases(
    town: towns.Town, areas: dict[int, Any], twilio: services.TwilioProcess
) -> list[Case]:
    cases = []
    with tempfile.TemporaryDirectory(prefix="outage-bench-engine-") as directory:
        loaded = Path(directory) / "loaded.db"
        upgrade(f"sqlite:///{loaded}")
        say(f"engine: loading {len(town):,} customers into SQLite")
        services.load_customers(f"sqlite:///{loaded}", town)
        for target, area in areas.items():
            path = Path(directory) / f"case_{target}.db"
            shutil.copyfile(loaded, path)
            cases.append(_case("sqlite", f"sqlite:///{path}", town, target, area, twilio))
            path.unlink()
    return cases


def _case(
    backend: str,
    url: str,
    town: towns.Town,
    target: int,
    area: Any,
    twilio: services.TwilioProcess,
) -> Case:
    key = services.operator_key(url)
    env = services.service_env(url, **services.twilio_env(twilio.base_url))
    with tempfile.TemporaryDirectory(prefix="outage-bench-serve-") as logs:
        serve = services.Serve(env, Path(logs) / "serve.log")
        with services.running(serve):
            ready = serve.wait_ready()
            say(f"engine {backend} {target:,}: serve ready in {ready:.1f} s; warm-up")
            _post_and_plan(serve, key, url, _warm_area(town), "WARM", twilio)
            _wait_outbox_empty(serve, url)
            twilio.reset()
            say(f"engine {backend} {target:,}: the measured storm")
            load = services.load_average()
            case = _post_and_plan(serve, key, url, area, f"STORM-{target}", twilio)
            peak = serve.peak_rss_mb()
    return Case(
        backend=backend,
        customers=len(town),
        affected_target=target,
        serve_peak_mb=peak,
        load_before=load,
        **case,
    )


def _post_and_plan(
    serve: services.Serve,
    key: str,
    url: str,
    area: Any,
    label: str,
    twilio: services.TwilioProcess,
) -> dict[str, Any]:
    body = incident_body(f"BENCH-ENGINE-{label}-{time.time_ns()}", area)
    started = time.perf_counter()
    status, answer = services.request("POST", serve.base_url + "/api/v1/incidents", key, body)
    post_s = time.perf_counter() - started
    if status != 201:
        raise RuntimeError(f"POST answered {status}: {answer}")
    incident_id = answer["id"]
    planned_s = _wait_planned(serve, url, incident_id, started)
    sent_by_done = twilio.count()
    first = _wait_first(serve, twilio)
    return {
        "affected": int(answer["affected_customers"]),
        "post_ms": ms(post_s),
        "planning_in_answer": str(answer.get("planning")),
        "first_s": first - started if first is not None else None,
        "planned_s": planned_s,
        "messages_planned": int(
            services.scalar(
                url, f"SELECT count(*) FROM notifications WHERE incident_id = '{incident_id}'"
            )
        ),
        "sent_by_done": sent_by_done,
    }


def _wait_first(
    serve: services.Serve, twilio: services.TwilioProcess, timeout: float = 120.0
) -> float | None:
    """The first SMS's arrival (it may come after planning ends), None if none came."""
    deadline = time.perf_counter() + timeout
    while (first := twilio.first()) is None and time.perf_counter() < deadline:
        serve.check_alive()
        time.sleep(0.01)
    return first


def _wait_planned(serve: services.Serve, url: str, incident_id: str, started: float) -> float:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    query = sa.text("SELECT state FROM planning_jobs WHERE incident_id = :id")
    try:
        deadline = started + TIMEOUT_S
        while time.perf_counter() < deadline:
            serve.check_alive()
            with engine.connect() as connection:
                state = connection.execute(query, {"id": incident_id}).scalar()
            if state in (None, "done"):  # no job: nothing to plan (the contract's "done")
                return time.perf_counter() - started
            time.sleep(POLL_S)
    finally:
        engine.dispose()
    raise TimeoutError(f"{incident_id}: planning not done after {TIMEOUT_S:.0f} s")


def _wait_outbox_empty(serve: services.Serve, url: str, timeout: float = 60.0) -> None:
    deadline = time.perf_counter() + timeout
    while services.scalar(url, "SELECT count(*) FROM outbox"):
        serve.check_alive()
        if time.perf_counter() > deadline:
            raise TimeoutError(f"warm-up messages not delivered after {timeout:.0f} s")
        time.sleep(POLL_S)


def _report(section: Section, case: Case) -> None:
    label = case.label
    load = f"load {case.load_before}"
    within = "within target" if case.post_ms < TARGETS["post_ms"] else "OVER TARGET"
    section.add(label, "affected (in the answer)", case.affected, "customers")
    section.add(
        label, "POST → HTTP answer", case.post_ms, "ms", f"{within}; {case.planning_in_answer}"
    )
    first_note = "no SMS arrived"
    if case.first_s is not None:
        first_note = "within target" if case.first_s < TARGETS["first_s"] else "OVER TARGET"
    section.add(label, "POST → first SMS at the stand-in", ms(case.first_s or 0), "ms", first_note)
    planned_note = load
    if case.affected_target >= 500_000 and case.backend == "postgresql":
        over = case.planned_s >= TARGETS["planned_500k_s"]
        planned_note = f"{'OVER TARGET' if over else 'within target'}; {load}"
    section.add(label, "POST → all planned (job done)", case.planned_s, "s", planned_note)
    section.add(label, "planning rate", per_second(case.affected, case.planned_s), "customers/s")
    section.add(
        label,
        "messages planned",
        case.messages_planned,
        "",
        f"{case.sent_by_done:,} SMS at the stand-in by then",
    )
    section.add(label, "serve peak RSS (VmHWM)", case.serve_peak_mb, "MB")
