"""8d. Peak resident memory (VmHWM of /proc/<pid>/status) of the service's processes against
the customer count, each after real work:

  - `serve` with the API only (OUTAGE_NOTIFY_DISPATCHER_ENABLED=false), after answering the POST
    of a storm covering 10 % of the customers: on PostgreSQL (matching in the database) and on
    SQLite (the in-memory customer index);
  - one `outage-notify worker` on PostgreSQL, after planning an incident and delivering the
    whole outbox it made (SMS to the Twilio stand-in answering at once, email and push to the dev
    sink), at two outbox sizes, to show whether its memory stays flat as the outbox grows.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench import data, postgres, services
from bench import town as towns
from bench.common import say
from bench.planning import incident_body
from bench.report import Section

SERVE_SHARE = 0.10
TARGET_SERVE_MB = 300.0
TIMEOUT_S = 1800.0


def run(serve_sizes: tuple[int, ...], worker_cases: tuple[tuple[int, int], ...]) -> Section:
    """serve_sizes: customer counts for serve; worker_cases: (customers, affected) pairs."""
    section = Section("8d. Peak RSS (VmHWM) of serve (API only) and of one worker")
    sizes = sorted({*serve_sizes, *(c for c, _ in worker_cases)})
    rows: list[dict[str, Any]] = []
    with services.twilio_stand_in() as twilio, postgres.Cluster(services.CLUSTER_SETTINGS) as pg:
        for customers in sizes:
            say(f"rss: building {customers:,} customers")
            town = data.build(customers)
            loaded = f"loaded_{customers}"
            services.postgres_database(pg, loaded, town)
            if customers in serve_sizes:
                area = towns.storm_polygon(town.lon, town.lat, int(customers * SERVE_SHARE))
                rows.append(_serve_postgres(pg, loaded, customers, area))
                rows.append(_serve_sqlite(town, area))
            for count, affected in worker_cases:
                if count == customers:
                    area = towns.storm_polygon(town.lon, town.lat, affected)
                    rows.append(_worker(pg, loaded, customers, affected, area, twilio))
            services.drop_database(pg, loaded)
    for row in rows:
        _report(section, row)
    section.figures["rss"] = rows
    section.notes += [
        "VmHWM read from /proc/<pid>/status just before the process is stopped.",
        f"serve: a storm covering {SERVE_SHARE:.0%} of the customers POSTed once (the answer "
        "includes the affected count); on SQLite this loads the in-memory customer index.",
        "worker: scheduler off; DISPATCH_THREADS/SMS_CONCURRENCY at their defaults (8); the "
        "incident posted to an API-only serve, then one worker plans and delivers everything "
        "(planning job done and outbox empty). 'RSS mid-outbox' is VmRSS sampled when half "
        "the outbox was delivered.",
        f"Target: serve under {TARGET_SERVE_MB:.0f} MB at 1M customers; a worker flat "
        "whatever the outbox holds.",
    ]
    return section


def _post(serve: services.Serve, key: str, area: Any) -> dict[str, Any]:
    body = incident_body(f"BENCH-RSS-{time.time_ns()}", area)
    started = time.perf_counter()
    status, answer = services.request("POST", serve.base_url + "/api/v1/incidents", key, body)
    if status != 201:
        raise RuntimeError(f"POST answered {status}: {answer}")
    answer["_post_ms"] = (time.perf_counter() - started) * 1000
    return answer


def _serve(url: str, backend: str, customers: int, area: Any) -> dict[str, Any]:
    key = services.operator_key(url)
    env = services.service_env(url, DISPATCHER_ENABLED="false")
    with tempfile.TemporaryDirectory(prefix="outage-bench-rss-") as logs:
        serve = services.Serve(env, Path(logs) / "serve.log")
        with services.running(serve):
            ready = serve.wait_ready()
            idle = serve.peak_rss_mb()
            answer = _post(serve, key, area)
            time.sleep(0.5)  # anything the request left behind (the index warm-up) settles
            peak = serve.peak_rss_mb()
            now = serve.rss_mb()
    say(f"rss: serve {backend} {customers:,}: {peak} MB")
    return {
        "process": "serve (API only)",
        "backend": backend,
        "customers": customers,
        "affected": answer["affected_customers"],
        "post_ms": answer["_post_ms"],
        "ready_s": ready,
        "peak_before_post_mb": idle,
        "peak_mb": peak,
        "rss_after_mb": now,
    }


def _serve_postgres(
    cluster: postgres.Cluster, loaded: str, customers: int, area: Any
) -> dict[str, Any]:
    name = "rss_serve"
    url = services.copy_database(cluster, loaded, name)
    try:
        return _serve(url, "postgresql", customers, area)
    finally:
        services.drop_database(cluster, name)


def _serve_sqlite(town: towns.Town, area: Any) -> dict[str, Any]:
    from outage_notify.db.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="outage-bench-rss-sqlite-") as directory:
        url = f"sqlite:///{Path(directory) / 'bench.db'}"
        upgrade(url)
        say(f"rss: loading {len(town):,} customers into SQLite")
        services.load_customers(url, town)
        return _serve(url, "sqlite", len(town), area)


def _worker(
    cluster: postgres.Cluster,
    loaded: str,
    customers: int,
    affected: int,
    area: Any,
    twilio: services.TwilioProcess,
) -> dict[str, Any]:
    name = "rss_worker"
    url = services.copy_database(cluster, loaded, name)
    key = services.operator_key(url)
    try:
        api = services.service_env(url, DISPATCHER_ENABLED="false")
        with tempfile.TemporaryDirectory(prefix="outage-bench-rss-") as logs:
            serve = services.Serve(api, Path(logs) / "serve.log")
            with services.running(serve):
                serve.wait_ready()
                answer = _post(serve, key, area)
            env = services.service_env(
                url, SCHEDULER_ENABLED="false", **services.twilio_env(twilio.base_url)
            )
            say(f"rss: worker, {customers:,} customers, {affected:,} affected")
            worker = services.Service(["worker"], env, Path(logs) / "worker.log")
            with services.running(worker):
                figures = _watch_worker(url, worker, answer["id"])
        return {
            "process": "worker",
            "backend": "postgresql",
            "customers": customers,
            "affected": answer["affected_customers"],
            **figures,
        }
    finally:
        services.drop_database(cluster, name)


def _watch_worker(url: str, worker: services.Service, incident_id: str) -> dict[str, Any]:
    """Polls until the job is done and the outbox empty; notes the outbox's largest size and
    the worker's RSS when half of it was gone."""
    engine = sa.create_engine(url)
    started = time.perf_counter()
    largest, mid_rss, planned_s = 0, None, None
    job = sa.text("SELECT state FROM planning_jobs WHERE incident_id = :id")
    try:
        while time.perf_counter() < started + TIMEOUT_S:
            worker.check_alive()
            with engine.connect() as connection:
                state = connection.execute(job, {"id": incident_id}).scalar()
                left = int(connection.execute(sa.text("SELECT count(*) FROM outbox")).scalar_one())
            largest = max(largest, left)
            if state in (None, "done") and planned_s is None:
                planned_s = time.perf_counter() - started
            if planned_s is not None and mid_rss is None and left <= largest // 2:
                mid_rss = worker.rss_mb()
            if planned_s is not None and left == 0:
                break
            time.sleep(0.2)
        else:
            raise TimeoutError(f"worker not done after {TIMEOUT_S:.0f} s")
        with engine.connect() as connection:
            messages = int(
                connection.execute(
                    sa.text("SELECT count(*) FROM notifications WHERE incident_id = :id"),
                    {"id": incident_id},
                ).scalar_one()
            )
    finally:
        engine.dispose()
    return {
        "messages": messages,
        "outbox_largest": largest,
        "planned_s": planned_s,
        "done_s": time.perf_counter() - started,
        "rss_mid_mb": mid_rss,
        "peak_mb": worker.peak_rss_mb(),
    }


def _report(section: Section, row: dict[str, Any]) -> None:
    case = f"{row['process']}, {row['backend']}, {row['customers']:,} customers"
    if row["process"] == "worker":
        case += f", {row['messages']:,} messages"
        section.add(case, "peak RSS (VmHWM)", row["peak_mb"], "MB")
        section.add(case, "RSS mid-outbox (VmRSS)", row["rss_mid_mb"], "MB")
        section.add(
            case,
            "planned / outbox empty after",
            f"{row['planned_s']:.1f} / {row['done_s']:.1f}",
            "s",
            f"outbox peaked at {row['outbox_largest']:,} rows seen",
        )
        return
    within = ""
    if row["customers"] >= 1_000_000:
        within = "within target" if (row["peak_mb"] or 0) < TARGET_SERVE_MB else "OVER TARGET"
    section.add(case, "peak RSS (VmHWM) after POST", row["peak_mb"], "MB", within)
    section.add(case, "peak RSS before the POST", row["peak_before_post_mb"], "MB")
    section.add(case, "POST answered", row["post_ms"], "ms", f"{row['affected']:,} affected")
