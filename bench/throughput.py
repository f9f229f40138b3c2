"""8c. Delivery throughput: 1, 4 and 8 `outage-notify worker` processes on PostgreSQL sharing
one outbox of SMS messages planned beforehand, sending to a Twilio stand-in that answers every
message after 50 ms (its own process, a ThreadingHTTPServer).

The outbox is made once: customers loaded, an incident covering all of them posted to `serve`
(API only), planned in this process (PlanningWorker.drain), then trimmed to exactly N SMS (the
email and push rows removed: they would go to the dev sink) and kept as a template database.
Each configuration runs on a fresh copy of it: the workers are started, and the clock runs from
their start until the outbox is empty (start-up included, as an operator would see it), beside
the rate from the first to the last message answered.
"""

from __future__ import annotations

import http.client
import math
import multiprocessing
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import shapely

from bench import data, postgres, services
from bench.common import bench_settings, say
from bench.planning import incident_body
from bench.report import Section, per_second
from outage_notify.runtime import Runtime

DELAY_S = 0.05
TARGET_PER_S = 2000.0
TIMEOUT_S = 1800.0
SMS_SHARE = 0.5  # at least this share of customers gets an SMS (bench/town.py profiles: ~0.6)
# Per worker process; DISPATCH_BATCH_SIZE rows claimed per transaction.
DEFAULT_SETTINGS = {
    "DISPATCH_THREADS": "32",
    "SMS_CONCURRENCY": "32",
    "DISPATCH_BATCH_SIZE": "200",
    "SCHEDULER_ENABLED": "false",
}


def run(messages: int, workers: tuple[int, ...], settings: dict[str, str]) -> Section:
    section = Section(
        f"8c. Delivery: {messages:,} planned SMS, Twilio stand-in answering after "
        f"{DELAY_S * 1000:.0f} ms, N `outage-notify worker` processes on PostgreSQL"
    )
    chosen = {**DEFAULT_SETTINGS, **settings}
    results = []
    with services.twilio_stand_in(DELAY_S) as twilio:
        capacity = _stand_in_capacity(twilio)
        with postgres.Cluster(services.CLUSTER_SETTINGS) as cluster:
            _plan_outbox(cluster, messages, twilio)
            for count in workers:
                results.append(_run_workers(cluster, count, messages, chosen, twilio))
    _report(section, results, capacity, chosen)
    return section


# ---- the stand-in's own capacity ------------------------------------------------------------


def _hammer(base_url: str, seconds: float, threads: int) -> int:
    """Many clients POSTing a message each time, one connection per request (as the server
    speaks HTTP/1.0); returns the requests answered 201."""
    host, port = base_url.removeprefix("http://").split(":")
    path = f"/2010-04-01/Accounts/{services.TWILIO_SID}/Messages.json"
    import base64

    auth = base64.b64encode(f"{services.TWILIO_SID}:{services.TWILIO_TOKEN}".encode()).decode()
    headers = {
        "Authorization": f"Basic {auth}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    body = "To=%2B358401000001&From=%2B358401234567&Body=bench"
    done = [0] * threads
    stop = time.perf_counter() + seconds

    def client(i: int) -> None:
        while time.perf_counter() < stop:
            connection = http.client.HTTPConnection(host, int(port), timeout=30)
            connection.request("POST", path, body=body, headers=headers)
            if connection.getresponse().status == 201:
                done[i] += 1
            connection.close()

    pool = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(done)


def _stand_in_capacity(twilio: services.TwilioProcess, seconds: float = 4.0) -> dict[str, Any]:
    """Two client processes of 150 threads each against the stand-in: its rate, and its CPU
    per message (the rate it could take on one free core)."""
    say("delivery: the stand-in's own capacity")
    context = multiprocessing.get_context("spawn")
    cpu_before = twilio.cpu_seconds()
    started = time.perf_counter()
    with context.Pool(2) as pool:
        counts = pool.starmap(_hammer, [(twilio.base_url, seconds, 150)] * 2)
    wall = time.perf_counter() - started
    cpu = twilio.cpu_seconds() - cpu_before
    answered = sum(counts)
    twilio.reset()
    return {
        "answered": answered,
        "wall_s": wall,
        "per_s": answered / seconds,
        "cpu_per_message_ms": 1000 * cpu / answered if answered else None,
        "per_cpu_second": answered / cpu if cpu else None,
    }


# ---- the outbox --------------------------------------------------------------------------------


def _plan_outbox(cluster: postgres.Cluster, messages: int, twilio: services.TwilioProcess) -> None:
    customers = math.ceil(messages / SMS_SHARE)
    town = data.build(customers)
    url = services.postgres_database(cluster, "planned", town)
    key = services.operator_key(url)
    everyone = shapely.box(*shapely.total_bounds(shapely.points(town.lon, town.lat))).buffer(0.01)
    env = services.service_env(
        url, DISPATCHER_ENABLED="false", **services.twilio_env(twilio.base_url)
    )
    with tempfile.TemporaryDirectory(prefix="outage-bench-delivery-") as logs:
        serve = services.Serve(env, Path(logs) / "serve.log")
        with services.running(serve):
            serve.wait_ready()
            body = incident_body(f"BENCH-DELIVERY-{time.time_ns()}", everyone)
            status, answer = services.request(
                "POST", serve.base_url + "/api/v1/incidents", key, body
            )
            if status != 201:
                raise RuntimeError(f"POST answered {status}: {answer}")
    say(f"delivery: planning {answer['affected_customers']:,} customers in this process")
    runtime = Runtime.build(bench_settings(url, secret_key=services.SECRET))
    try:
        runtime.planner.drain(timeout=TIMEOUT_S)
    finally:
        runtime.close()
    services.execute(
        url,
        "DELETE FROM outbox o USING notifications n "
        "WHERE n.id = o.notification_id AND n.channel <> 'sms'",
        "DELETE FROM outbox WHERE notification_id NOT IN "
        f"(SELECT notification_id FROM outbox ORDER BY notification_id LIMIT {messages})",
        "UPDATE outbox SET available_at = now() - interval '1 minute'",
    )
    held = int(services.scalar(url, "SELECT count(*) FROM outbox"))
    if held != messages:
        raise RuntimeError(f"outbox holds {held:,} SMS, not {messages:,}: more customers needed")


def _run_workers(
    cluster: postgres.Cluster,
    count: int,
    messages: int,
    settings: dict[str, str],
    twilio: services.TwilioProcess,
) -> dict[str, Any]:
    name = f"run_{count}"
    url = services.copy_database(cluster, "planned", name)
    env = services.service_env(url, **settings, **services.twilio_env(twilio.base_url))
    twilio.reset()
    say(f"delivery: {count} worker(s)")
    load = services.load_average()
    stand_in_cpu = twilio.cpu_seconds()
    with tempfile.TemporaryDirectory(prefix="outage-bench-workers-") as logs:
        started = time.perf_counter()
        workers = [
            services.Service(["worker"], env, Path(logs) / f"worker-{i}.log") for i in range(count)
        ]
        try:
            emptied = _wait_empty(url, workers, started)
            peaks = [w.peak_rss_mb() or 0.0 for w in workers]
            cpu = sum(_cpu_seconds(w.pid) for w in workers)
        finally:
            for worker in workers:
                worker.stop()
    arrivals = sorted(twilio.arrivals())
    stand_in_cpu = twilio.cpu_seconds() - stand_in_cpu
    sent = int(
        services.scalar(
            url, "SELECT count(*) FROM notifications WHERE channel = 'sms' AND status = 'sent'"
        )
    )
    services.drop_database(cluster, name)
    steady = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0.0
    return {
        "workers": count,
        "messages": messages,
        "arrived": len(arrivals),
        "sent_in_db": sent,
        "start_to_empty_s": emptied,
        "first_arrival_s": arrivals[0] - started if arrivals else None,
        "per_s_from_start": per_second(messages, emptied),
        "per_s_first_to_last": per_second(len(arrivals), steady),
        "worker_cpu_s": cpu,
        "stand_in_cpu_s": stand_in_cpu,
        "worker_peak_rss_mb": max(peaks),
        "load_before": load,
    }


def _wait_empty(url: str, workers: list[services.Service], started: float) -> float:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        while time.perf_counter() < started + TIMEOUT_S:
            for worker in workers:
                worker.check_alive()
            with engine.connect() as connection:
                left = connection.execute(sa.text("SELECT count(*) FROM outbox")).scalar()
            if not left:
                return time.perf_counter() - started
            time.sleep(0.1)
    finally:
        engine.dispose()
    raise TimeoutError(f"outbox not empty after {TIMEOUT_S:.0f} s")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (/proc/<pid>/stat, clock ticks)."""
    import os

    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- reporting -------------------------------------------------------------------------------


def _report(
    section: Section,
    results: list[dict[str, Any]],
    capacity: dict[str, Any],
    settings: dict[str, str],
) -> None:
    case = "stand-in alone"
    section.add(
        case,
        "answered/s (50 ms each)",
        capacity["per_s"],
        "msg/s",
        "300 client threads in 2 processes, a connection per request",
    )
    section.add(
        case,
        "CPU per message",
        capacity["cpu_per_message_ms"],
        "ms",
        f"{capacity['per_cpu_second'] or 0:,.0f} msg per CPU-second",
    )
    for result in results:
        case = f"{result['workers']} worker{'s' if result['workers'] > 1 else ''}"
        target = result["per_s_from_start"] or 0
        note = f"load {result['load_before']}"
        if result["workers"] == 8:
            over = "within target" if target >= TARGET_PER_S else "UNDER TARGET"
            note = f"{over} ({TARGET_PER_S:,.0f}); {note}"
        section.add(case, "start → outbox empty", result["start_to_empty_s"], "s")
        section.add(case, "throughput, from start", result["per_s_from_start"], "msg/s", note)
        section.add(case, "throughput, first → last answer", result["per_s_first_to_last"], "msg/s")
        section.add(case, "first answer after start", result["first_arrival_s"], "s")
        section.add(
            case,
            "arrived / sent in db",
            f"{result['arrived']:,} / {result['sent_in_db']:,}",
            "",
            f"of {result['messages']:,}",
        )
        section.add(
            case,
            "CPU: workers / stand-in",
            f"{result['worker_cpu_s']:.1f} / {result['stand_in_cpu_s']:.1f}",
            "s",
            f"{1000 * result['worker_cpu_s'] / result['messages']:.2f} ms worker CPU per message",
        )
        section.add(case, "worker peak RSS (largest)", result["worker_peak_rss_mb"], "MB")
    section.figures["delivery"] = {
        "settings": settings,
        "stand_in": capacity,
        "runs": results,
    }
    section.notes += [
        "Settings per worker: " + ", ".join(f"{k}={v}" for k, v in settings.items()) + ".",
        "Workers, stand-in, PostgreSQL and the bench share the machine's 2 cores.",
    ]


def parse_settings(text: str) -> dict[str, str]:
    pairs = (part.split("=", 1) for part in text.split(",") if part.strip())
    return {name.strip().upper(): value.strip() for name, value in pairs}
