"""12. The storm dashboard's figures (timeline/dashboard.py `storm_stats`, what GET /dashboard
and GET /api/v1/dashboard read on every refresh) over a storm of 1,000,000 notifications, on
SQLite and PostgreSQL.

The storm, written straight into a migrated database (no engine: only the rows matter here):
500 incidents confirmed over the last six hours (450 open, 50 restored; unplanned, planned work
and warnings), every customer tied to one of them (one in ten also to a warning), and the
notifications spread over the six hours, all of them inside the dashboard's window: the worst
case, where every one is counted. Bodies have realistic sizes (an SMS 160 characters, an email
600 and its HTML 1,500, an in-app message 300), as the table scan reads them too. Replies and
opt-outs are spread over the window.

Timed: storm_stats at the end of the storm, the median of the runs, each a fresh read
transaction; then again with the two indexes the dashboard would use if the schema had them,
created on the bench's copy only, to show what a migration adding them would buy.
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bench import data, postgres, services
from bench.common import fresh_database, median_time, say, timed
from bench.report import Section, ms
from outage_notify.db.engine import make_engine, make_session_factory, reading
from outage_notify.timeline.dashboard import storm_stats

NOW = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
WINDOW = timedelta(hours=6)
INCIDENTS = 500
RESTORED = 50  # the first 50 incidents
SHARED_WARNING = 450  # a warning that one customer in ten is also exposed to
REPLIES = 20_000
OPT_OUTS = 2_000
TARGET_MS = 1000.0  # a page (the dashboard's refresh) loads in under a second
SMS = "Sähkökatko alueellasi klo 21.38 alkaen, syy: kaatunut puu. Korjaamme vikaa. " * 2
EMAIL_TEXT = (
    "Power cut in your area since 21:38, cause: fallen tree. Our crew is on the way. "
) * 8
EMAIL_HTML = "<p>" + EMAIL_TEXT + "</p>" + "<div style='font-family:sans-serif'>…</div>" * 18
IN_APP = EMAIL_TEXT[:300]
CHANNELS = ("sms", "email", "in_app", "sms")  # an SMS-heavy mix, as in a storm
STATUSES = ("delivered",) * 14 + ("sent",) * 3 + ("queued",) * 2 + ("failed", "suppressed")
# The indexes the dashboard's queries would use if the schema had them (see the notes): the
# window's counts from an index alone, in the order they are grouped; each incident's first
# message from an index alone (a superset of ix_notifications_incident_id, which it replaces).
SUGGESTED = (
    "CREATE INDEX ix_bench_notifications_channel_status_created "
    "ON notifications (channel, status, created_at)",
    "CREATE INDEX ix_bench_notifications_incident_channel_sent "
    "ON notifications (incident_id, channel, sent_at)",
)
NOTIFICATION_COLUMNS = (
    "id", "customer_pk", "incident_id", "channel", "kind", "dedup_key", "language", "to_address",
    "subject", "body", "html", "status", "provider", "attempts", "possible_duplicate",
    "created_at", "updated_at", "sent_at", "delivered_at",
)  # fmt: skip
INCIDENT_COLUMNS = (
    "id", "source", "external_id", "kind", "status", "feeders", "transformers", "etr",
    "starts_at", "ends_at", "started_at", "version", "affected_count", "created_at",
    "updated_at", "closed_at", "confirmed_at",
)  # fmt: skip
TIE_COLUMNS = ("incident_id", "customer_pk", "affected", "since", "planned_affected")


def run(notifications: int, repeats: int, backends: tuple[str, ...]) -> Section:
    customers = max(notifications // 4, 1000)
    section = Section(f"12. Storm dashboard: storm_stats over {notifications:,} notifications")
    say(f"dashboard: building {customers:,} synthetic customers")
    town = data.build(customers)
    storm = Storm(customers, notifications)
    if "sqlite" in backends:
        _sqlite_case(section, town, storm, repeats)
    if "postgresql" in backends:
        if (why := postgres.available()) is None:
            with postgres.Cluster(services.CLUSTER_SETTINGS) as cluster:
                _postgres_case(section, cluster, town, storm, repeats)
        else:
            section.notes.append(f"PostgreSQL not measured: {why}")
    section.notes += [
        f"{INCIDENTS} incidents over the last 6 h ({INCIDENTS - RESTORED} open), "
        f"{customers:,} customers each tied to one (a tenth also to a warning), "
        f"{notifications:,} notifications all created in the window (every one counted), "
        f"{REPLIES:,} replies, {OPT_OUTS:,} opt-outs; window 6 h in 5-minute buckets.",
        "stats = storm_stats in a fresh read transaction, median of the runs; the first run "
        "(cold caches of this process) beside it. CPU of this process: on SQLite the queries' "
        "own work (less sensitive than the wall time to other load on the machine); on "
        "PostgreSQL only the client's part.",
        "with indexes = the same after creating, on the bench's copy only, notifications "
        "(channel, status, created_at) and (incident_id, channel, sent_at): without them the "
        "window's messages are counted from the table itself (the schema has no index with "
        "channel or status), and each new outage's first message read from its rows.",
    ]
    return section


# ---- the storm ---------------------------------------------------------------------------------


class Storm:
    """The rows, made the same way for both back ends (times as datetimes; SQLite's writer
    turns them into its text form)."""

    def __init__(self, customers: int, notifications: int) -> None:
        self.customers = customers
        self.notifications = notifications
        step = WINDOW / INCIDENTS
        self.confirmed = [NOW - WINDOW + i * step for i in range(INCIDENTS)]

    def kind(self, i: int) -> str:
        return "warning" if i % 50 == 0 else "planned" if i % 10 == 5 else "unplanned"

    def incident_id(self, i: int) -> str:
        return f"inc_bench{i:04d}"

    def incidents(self) -> Iterator[tuple[Any, ...]]:
        for i, confirmed in enumerate(self.confirmed):
            restored = i < RESTORED
            kind = self.kind(i)
            planned = kind == "planned"
            yield (
                self.incident_id(i), "bench", f"B-{i}", kind,
                "restored" if restored else ("detected", "crew_assigned", "in_progress")[i % 3],
                "[]", "[]",
                NOW - timedelta(minutes=30) if i % 4 == 1 else NOW + timedelta(hours=2),
                confirmed if planned else None,
                NOW + timedelta(hours=3) if planned or kind == "warning" else None,
                confirmed, 1, self.customers // INCIDENTS, confirmed, confirmed,
                confirmed + timedelta(hours=1) if restored else None, confirmed,
            )  # fmt: skip

    def ties(self) -> Iterator[tuple[Any, ...]]:
        """Incident by incident, as matching writes them: customer pk ≡ i + 1 (mod INCIDENTS)
        is incident i's; one in twenty released since; one in ten also under the warning."""
        for i in range(INCIDENTS):
            for pk in range(i + 1, self.customers + 1, INCIDENTS):
                yield (self.incident_id(i), pk, pk % 20 != 0, self.confirmed[i], True)
        warning = SHARED_WARNING
        for pk in range(10, self.customers + 1, 10):
            if (pk - 1) % INCIDENTS != warning:
                yield (self.incident_id(warning), pk, True, self.confirmed[warning], True)

    def notification_rows(self) -> Iterator[tuple[Any, ...]]:
        """Incident by incident, as planning writes them: its customers' messages in a burst
        after its confirmation, ids and times rising together."""
        per_incident = self.notifications // INCIDENTS
        n = 0
        for i in range(INCIDENTS):
            count = per_incident + (1 if i < self.notifications % INCIDENTS else 0)
            for k in range(count):
                n += 1
                yield self._notification(n, i, k)

    def _notification(self, n: int, i: int, k: int) -> tuple[Any, ...]:
        pk = (k // len(CHANNELS) * INCIDENTS + i) % self.customers + 1  # one of incident i's
        channel = CHANNELS[k % len(CHANNELS)]
        status = "delivered" if channel == "in_app" else STATUSES[n % len(STATUSES)]
        created = min(self.confirmed[i] + timedelta(seconds=k // 100), NOW)
        sent = created + timedelta(seconds=5 + n % 97)
        went = status in ("sent", "delivered") and channel != "in_app"
        return (
            n, pk, self.incident_id(i), channel, "outage", f"bench:{n}", "fi",
            None if channel == "in_app" else f"+35840{pk:07d}",
            "Power cut" if channel == "email" else None,
            _body(channel), EMAIL_HTML if channel == "email" else None,
            status, None if status in ("queued", "suppressed") else "bench", 1, False,
            created, created, sent if went else None,
            sent if status == "delivered" else None,
        )  # fmt: skip

    def replies(self) -> Iterator[tuple[Any, ...]]:
        for n in range(REPLIES):
            yield (f"SMbench{n:08d}", NOW - WINDOW + (n * WINDOW) / REPLIES)

    def opt_outs(self) -> Iterator[tuple[Any, ...]]:
        for n in range(OPT_OUTS):
            yield ("sms", f"{n:064x}", "hmac", NOW - WINDOW + (n * WINDOW) / OPT_OUTS)


def _body(channel: str) -> str:
    return {"sms": SMS, "email": EMAIL_TEXT, "in_app": IN_APP}[channel]


TABLES = (
    ("incidents", INCIDENT_COLUMNS, "incidents"),
    ("incident_customers", TIE_COLUMNS, "ties"),
    ("notifications", NOTIFICATION_COLUMNS, "notification_rows"),
    ("inbound_messages", ("message_sid", "received_at"), "replies"),
    ("opt_outs", ("channel", "address_hash", "scheme", "created_at"), "opt_outs"),
)


# ---- the back ends ----------------------------------------------------------------------------


def _sqlite_case(section: Section, town: Any, storm: Storm, repeats: int) -> None:
    with fresh_database("dashboard") as url:
        load_s, _ = timed(lambda: _write_sqlite(url, town, storm))
        say(f"dashboard: SQLite loaded in {load_s:.0f} s")
        _measure(section, "sqlite", url, load_s, repeats)


def _write_sqlite(url: str, town: Any, storm: Storm) -> None:
    data.write_sqlite(url, town)
    path = sa.make_url(url).database
    assert path, url
    with sqlite3.connect(path) as connection:
        for table, columns, rows in TABLES:
            marks = ", ".join("?" * len(columns))
            connection.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                (tuple(map(_sqlite_value, row)) for row in getattr(storm, rows)()),
            )


def _sqlite_value(value: Any) -> Any:
    """SQLAlchemy's SQLite DateTime text, naive UTC (db/types.py)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _postgres_case(
    section: Section, cluster: postgres.Cluster, town: Any, storm: Storm, repeats: int
) -> None:
    started = timed(lambda: services.postgres_database(cluster, "dashboard", town))
    url = started[1]
    load_s, _ = timed(lambda: _write_postgres(url, storm))
    say(f"dashboard: PostgreSQL loaded in {started[0] + load_s:.0f} s")
    _measure(section, "postgresql", url, started[0] + load_s, repeats)


def _write_postgres(url: str, storm: Storm) -> None:
    import psycopg  # only where PostgreSQL is written

    conninfo = sa.make_url(url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(conninfo) as connection, connection.cursor() as cursor:
        for table, columns, rows in TABLES:
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in getattr(storm, rows)():
                    copy.write_row(row)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def _measure(section: Section, backend: str, url: str, load_s: float, repeats: int) -> None:
    engine = make_engine(url, writer=False)
    sessions = make_session_factory(engine)
    cpu: list[float] = []  # this process's CPU per run: on SQLite, the queries' own work

    def stats(_: Any) -> Any:
        started = time.process_time()
        with reading(sessions) as session:
            result = storm_stats(session, now=NOW, window=WINDOW)
        cpu.append(time.process_time() - started)
        return result

    try:
        first_s, result = timed(lambda: stats(None))
        cpu.clear()
        plain = median_time(stats, repeats)
        plain_cpu = statistics.median(cpu)
        cpu.clear()
        say(f"dashboard {backend}: {ms(plain.median):.0f} ms")
        index_s, _ = timed(lambda: services.execute(url, *SUGGESTED))
        indexed = median_time(stats, repeats)
        indexed_cpu = statistics.median(cpu)
        say(f"dashboard {backend} with the indexes: {ms(indexed.median):.0f} ms")
    finally:
        engine.dispose()
    counted = result.messages_total()
    section.add(backend, "storm loaded in", load_s, "s")
    section.add(backend, "messages counted", counted)
    section.add(backend, "affected now", result.affected_total)
    section.add(backend, "stats, first run", ms(first_s), "ms")
    section.add(backend, "stats", ms(plain.median), "ms")
    section.add(backend, "stats, CPU of this process", ms(plain_cpu), "ms")
    section.add(backend, "stats under 1 s", plain.median * 1000 < TARGET_MS)
    section.add(backend, "indexes built in", index_s, "s")
    section.add(backend, "stats with indexes", ms(indexed.median), "ms")
    section.add(backend, "with indexes, CPU of this process", ms(indexed_cpu), "ms")
    section.figures.setdefault("dashboard", []).append(
        {
            "backend": backend,
            "load_s": load_s,
            "first_ms": ms(first_s),
            "stats_ms": ms(plain.median),
            "stats_runs_ms": [ms(r) for r in plain.runs],
            "index_build_s": index_s,
            "stats_cpu_ms": ms(plain_cpu),
            "stats_with_index_ms": ms(indexed.median),
            "stats_with_index_runs_ms": [ms(r) for r in indexed.runs],
            "stats_with_index_cpu_ms": ms(indexed_cpu),
            "messages": counted,
            "affected": result.affected_total,
            "first_message_p50_s": result.first_message.p50_seconds,
            "first_message_p95_s": result.first_message.p95_seconds,
        }
    )
