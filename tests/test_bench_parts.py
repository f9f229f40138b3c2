"""The bench's engine, delivery, rss and feeds parts: their options, and the helpers they measure
with; the feeds part run end to end on a tiny town, so it cannot rot."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from bench import dashboard, data, feeds, pages, services, throughput
from bench.__main__ import parse_args, plan
from outage_notify.ingest.outage_feed import parse_outage_feed
from tests.standins.twilio import TwilioStandIn
from tests.web.browser import chromium_problem


def test_quick_sizes_every_service_part_small() -> None:
    args = parse_args(["--quick", "--only", "engine", "--only", "delivery", "--only", "rss"])
    assert args.engine_customers == 20_000
    assert args.engine_affected == (2_000,)
    assert args.delivery_workers == (1, 4)
    assert [step[0] for step in plan(args)] == ["engine", "delivery", "rss"]


def test_full_defaults_follow_the_issue() -> None:
    args = parse_args([])
    assert args.engine_customers == 1_000_000
    assert args.engine_affected == (100_000, 500_000)
    assert args.engine_sqlite_affected == (100_000,)
    assert args.delivery_workers == (1, 4, 8)
    assert args.rss_serve_sizes == (100_000, 1_000_000)


def test_sizes_and_pairs_are_parsed() -> None:
    args = parse_args(
        ["--engine-sqlite-affected", "", "--rss-worker-cases", "100_000:4000,1000000:40000"]
    )
    assert args.engine_sqlite_affected == ()
    assert args.rss_worker_cases == ((100_000, 4_000), (1_000_000, 40_000))
    with pytest.raises(SystemExit):
        parse_args(["--rss-worker-cases", "100000"])


def test_worker_settings_are_named_without_the_prefix() -> None:
    assert throughput.parse_settings("dispatch_threads=16, SMS_CONCURRENCY=4") == {
        "DISPATCH_THREADS": "16",
        "SMS_CONCURRENCY": "4",
    }


def test_service_env_replaces_the_shells_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTAGE_NOTIFY_DISPATCHER_ENABLED", "false")
    env = services.service_env("sqlite:///x.db", **services.twilio_env("http://127.0.0.1:1"))
    assert env["OUTAGE_NOTIFY_DATABASE_URL"] == "sqlite:///x.db"
    assert env["OUTAGE_NOTIFY_TWILIO_BASE_URL"] == "http://127.0.0.1:1"
    assert "OUTAGE_NOTIFY_DISPATCHER_ENABLED" not in env


def test_peak_rss_is_read_from_proc() -> None:
    peak = services.proc_status_mb(os.getpid(), "VmHWM")
    now = services.proc_status_mb(os.getpid(), "VmRSS")
    assert peak is not None and now is not None
    assert peak >= now > 1
    assert services.proc_status_mb(2**22 + 1, "VmHWM") is None  # no such process


def test_twilio_stand_in_accepts_a_burst_of_connections() -> None:
    """Hundreds of senders connecting at once are all accepted at once: a small listen backlog
    drops SYNs, and each dropped one retries a second later."""
    stand_in = TwilioStandIn("AC" + "0" * 32, "token", delay=0.3).start()
    host, port = stand_in.server.server_address[:2] if stand_in.server else ("", 0)
    connected: list[float] = []
    lock = threading.Lock()

    def connect() -> None:
        started = time.perf_counter()
        with socket.create_connection((host, port), timeout=10) as sock:
            with lock:
                connected.append(time.perf_counter() - started)
            sock.settimeout(0.5)
            with contextlib.suppress(TimeoutError):  # holds the connection a moment
                sock.recv(1)

    try:
        threads = [threading.Thread(target=connect) for _ in range(200)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        stand_in.stop()
    assert len(connected) == 200
    assert max(connected) < 0.9, max(connected)


# ---- feeds -------------------------------------------------------------------------------------

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_feed_part_sizes() -> None:
    assert parse_args([]).feed_customers == 1_000_000
    quick = parse_args(["--quick", "--only", "feeds"])
    assert quick.feed_customers == 20_000
    assert [step[0] for step in plan(quick)] == ["feeds"]
    assert parse_args(["--feed-customers", "100_000"]).feed_customers == 100_000


def test_feed_storm_is_the_mix_the_issue_asks_for() -> None:
    """500 outages, ~70 % points, covering 5–10 % of the customers, all lasted long enough to
    be told at once; the second snapshot moves 50 ETRs, drops 25 and adds 25."""
    town = data.build(20_000)
    mix = feeds.Mix.of(500)
    storm = feeds.make_storm(town, mix, now=NOW, point_radius_m=150, seed=data.SEED)
    assert (mix.changed, mix.gone, mix.new) == (50, 25, 25)
    assert len(storm.first) == 500
    assert 0.6 < storm.points / 500 < 0.8
    assert 0.05 <= storm.covered_share <= 0.10
    assert all(o.started_at <= NOW - timedelta(minutes=10) < NOW < o.etr for o in storm.first)
    before = {o.id: o for o in storm.first}
    after = {o.id: o for o in storm.second}
    assert len(before.keys() - after.keys()) == 25
    assert len(after.keys() - before.keys()) == 25
    moved = [i for i in before.keys() & after.keys() if after[i].etr != before[i].etr]
    assert len(moved) == 50
    assert all(after[i].etr > before[i].etr for i in moved)
    parsed = parse_outage_feed(feeds.feed_body(storm.first), point_radius_m=150)
    assert (len(parsed.outages), len(parsed.rejected)) == (500, 0)


def test_feed_part_polls_and_plans_a_small_storm() -> None:
    section = feeds.run(3_000, outages=40, backends=("sqlite",))
    (case,) = section.figures["feeds"]["cases"]
    steps = case["steps"]
    assert case["affected"] > 0
    first, second = steps["first"]["result"], steps["second"]["result"]
    assert (first["created"], first["rejected"]) == (40, 0)
    assert steps["first"]["messages"] > 0
    assert (second["created"], second["changed"], second["absent"]) == (2, 4, 2)
    assert steps["unchanged"]["result"]["unchanged"]
    assert steps["unchanged"]["result"]["restored"] == 2
    assert steps["idle"]["result"]["restored"] == 0
    assert steps["idle"]["messages"] == 0
    fits = [row for row in section.rows if row.metric.endswith("poll + planning")]
    assert len(fits) == 4


def test_dashboard_part_sizes() -> None:
    assert parse_args(["--quick"]).dashboard_notifications == 100_000
    assert parse_args([]).dashboard_notifications == 1_000_000
    args = parse_args(["--only", "dashboard", "--dashboard-notifications", "20_000"])
    assert [(step[0], step[2][0]) for step in plan(args)] == [("dashboard", 20_000)]


def test_dashboard_part_counts_a_small_storm() -> None:
    """Every notification written is counted; every customer is tied to an incident, one in
    twenty released since, and those of the 50 restored incidents no longer count."""
    section = dashboard.run(4_000, 1, ("sqlite",))
    (case,) = section.figures["dashboard"]
    assert case["messages"] == 4_000
    assert 0 < case["affected"] < 1_000
    assert case["first_message_p50_s"] is not None
    assert case["stats_ms"] > 0 and case["stats_with_index_ms"] > 0


# ---- pages -------------------------------------------------------------------------------------


def test_pages_part_sizes() -> None:
    assert (parse_args([]).pages_customers, parse_args([]).pages_incidents) == (100_000, 500)
    args = parse_args(["--only", "pages", "--pages-customers", "5_000", "--pages-incidents", "20"])
    assert [(step[0], step[2][:2]) for step in plan(args)] == [("pages", (5_000, 20))]
    with pytest.raises(SystemExit):
        parse_args(["--pages-incidents", "0"])


def test_pages_part_serves_every_page_over_a_small_storm() -> None:
    """Every page of the table answered 200 (the part refuses anything else) to the user it
    needs, timed by the server and, where Chromium is installed, by the browser."""
    section = pages.run(3_000, 20, 1, ("sqlite",))
    (case,) = section.figures["pages"]
    assert case["incidents"] == 20 and case["messages"] > 0
    assert case["subjects"]["incident_affected"] > 0
    assert [p["path"].split("?")[0] for p in case["pages"]] == [
        page.path.split("?")[0].format(
            incident=case["subjects"]["incident"], customer=case["subjects"]["customer"]
        )
        for page in pages.PAGES
    ]
    assert all(len(p["server_ms"]) == 1 and p["response_bytes"] > 0 for p in case["pages"])
    if chromium_problem() is None:
        for page in case["pages"]:
            assert list(page["browser"]) == ["first visit", "return visit"]
            assert all(len(visits["load_ms"]) == 1 for visits in page["browser"].values())
            assert page["browser"]["first visit"]["bytes"] > 0  # a return visit may be cached
        drawn = {p["path"]: p["browser"]["first visit"]["drawn_ms"] for p in case["pages"]}
        assert len(drawn["/map"]) == 1  # the public map's incidents were drawn
        assert drawn["/agent"] == []  # no map on the page
    verdicts = [row.note for row in section.rows if "median" in row.metric]
    assert verdicts and all(v.startswith(("within target", "OVER TARGET")) for v in verdicts)
