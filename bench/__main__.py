"""python -m bench [--quick]: every figure in one run, printed as a table and written as JSON.

Each measurement runs in a fresh process (spawned), so one does not warm or bloat the next and
each peak-RSS figure belongs to one measurement.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import shapely

from bench import (
    cap,
    cli,
    dashboard,
    delivery,
    engine,
    feeds,
    geometry,
    match,
    matching,
    pages,
    planning,
    rss,
    throughput,
)
from bench.common import drop_outage_notify_env, run_isolated, say
from bench.report import Section, merge_json, render_table, write_json

RESULTS = Path(__file__).parent / "results"
# Committed with the figures: each run replaces the parts it ran, keeps the others.
COMMITTED = Path(__file__).parent / "results.json"
# "latency": the in-process POST → provider run (bench/delivery.py); "delivery": worker
# throughput (bench/throughput.py); "engine", "rss": the service's own processes; "feeds": a
# storm of outages from the feed, polled and planned (bench/feeds.py); "cap": hostile weather
# warnings read and refused or repaired (bench/cap.py); "dashboard": the storm dashboard's
# figures over a million notifications (bench/dashboard.py); "pages": every page served and
# loaded in a browser over a storm (bench/pages.py).
PARTS = (
    "matching", "planning", "latency", "geometry", "cli", "match", "engine", "delivery", "rss",
    "feeds", "cap", "dashboard", "pages",
)  # fmt: skip
MATCH_SIZES = (100_000, 1_000_000, 5_000_000)
BACKENDS = ("sqlite", "postgresql")
PACKAGES = ("shapely", "numpy", "sqlalchemy", "fastapi", "twilio", "aiosmtpd", "pywebpush")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small run (100,000 synthetic customers)"
    )
    parser.add_argument("--customers", type=int, help="synthetic customers (default 1,000,000)")
    parser.add_argument("--affected", type=int, help="planning: affected in the big town")
    parser.add_argument(
        "--limit", type=float, default=600.0, help="planning: longest big upsert, s"
    )
    parser.add_argument("--repeats", type=int, default=7, help="runs per fast measurement")
    parser.add_argument("--only", action="append", choices=PARTS, help="run only these parts")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the planning upserts (slows them)"
    )
    parser.add_argument(
        "--match-sizes",
        type=_sizes,
        help="match: customer counts, comma-separated (default 100000,1000000,5000000)",
    )
    parser.add_argument(
        "--engine-customers", type=_size, help="engine: customers (default 1,000,000)"
    )
    parser.add_argument(
        "--engine-affected",
        type=_sizes,
        help="engine: affected counts on PostgreSQL (default 100000,500000)",
    )
    parser.add_argument(
        "--engine-sqlite-affected",
        type=_counts,
        help="engine: affected counts on SQLite, '' for none (default 100000)",
    )
    parser.add_argument(
        "--delivery-messages", type=_size, help="delivery: planned SMS (default 20,000)"
    )
    parser.add_argument(
        "--delivery-workers", type=_counts, help="delivery: worker counts (default 1,4,8)"
    )
    parser.add_argument(
        "--delivery-settings",
        type=throughput.parse_settings,
        default={},
        help="delivery: worker settings, e.g. DISPATCH_THREADS=32,SMS_CONCURRENCY=32",
    )
    parser.add_argument(
        "--rss-serve-sizes",
        type=_sizes,
        help="rss: customer counts for serve (default 100000,1000000)",
    )
    parser.add_argument(
        "--rss-worker-cases",
        type=_pairs,
        help="rss: worker customers:affected pairs (default 100000:4000,1000000:4000,"
        "1000000:40000)",
    )
    parser.add_argument("--feed-customers", type=_size, help="feeds: customers (default 1,000,000)")
    parser.add_argument(
        "--feed-profile", action="store_true", help="feeds: cProfile the first poll (slows it)"
    )
    parser.add_argument(
        "--dashboard-notifications",
        type=_size,
        help="dashboard: notifications in the storm (default 1,000,000)",
    )
    parser.add_argument("--pages-customers", type=_size, help="pages: customers (default 100,000)")
    parser.add_argument(
        "--pages-incidents", type=_positive, help="pages: incidents in the storm (default 500)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    args.customers = args.customers or (100_000 if args.quick else 1_000_000)
    args.affected = args.affected or min(100_000, args.customers // 10)
    args.match_sizes = args.match_sizes or ((100_000,) if args.quick else MATCH_SIZES)
    _service_defaults(args)
    return args


def _service_defaults(args: argparse.Namespace) -> None:
    """Sizes of the engine, delivery and rss parts: --quick runs each in under a minute."""
    quick = args.quick
    args.engine_customers = args.engine_customers or (20_000 if quick else 1_000_000)
    args.engine_affected = args.engine_affected or ((2_000,) if quick else (100_000, 500_000))
    if args.engine_sqlite_affected is None:
        args.engine_sqlite_affected = (2_000,) if quick else (100_000,)
    args.feed_customers = args.feed_customers or (20_000 if quick else 1_000_000)
    args.dashboard_notifications = args.dashboard_notifications or (100_000 if quick else 1_000_000)
    args.pages_customers = args.pages_customers or pages.CUSTOMERS
    args.pages_incidents = args.pages_incidents or pages.INCIDENTS
    args.delivery_messages = args.delivery_messages or (2_000 if quick else 20_000)
    args.delivery_workers = args.delivery_workers or ((1, 4) if quick else (1, 4, 8))
    args.rss_serve_sizes = args.rss_serve_sizes or ((20_000,) if quick else (100_000, 1_000_000))
    args.rss_worker_cases = args.rss_worker_cases or (
        ((20_000, 1_000), (20_000, 4_000))
        if quick
        else ((100_000, 4_000), (1_000_000, 4_000), (1_000_000, 40_000))
    )


def _size(text: str) -> int:
    return _sizes(text)[0]


def _positive(text: str) -> int:
    counts = _counts(text)
    if len(counts) != 1 or counts[0] < 1:
        raise argparse.ArgumentTypeError(f"not a count of at least 1: {text}")
    return counts[0]


def _counts(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of counts: {text}") from exc


def _pairs(text: str) -> tuple[tuple[int, int], ...]:
    try:
        pairs = [part.split(":") for part in text.split(",") if part.strip()]
        return tuple((int(a.replace("_", "")), int(b.replace("_", ""))) for a, b in pairs)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not customers:affected pairs: {text}") from exc


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part.replace("_", "")) for part in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of counts: {text}") from exc
    if not sizes or min(sizes) < 1000:
        raise argparse.ArgumentTypeError("each size must be at least 1000")
    return sizes


def plan(args: argparse.Namespace) -> list[tuple[str, Callable[..., Section], tuple[Any, ...]]]:
    """(part, function, arguments) of every measurement to run, in order."""
    steps: list[tuple[str, Callable[..., Section], tuple[Any, ...]]] = [
        ("matching", matching.run, (args.customers, args.repeats)),
        ("planning", planning.run_demo, (args.profile,)),
        ("planning", planning.run_big, (args.customers, args.affected, args.limit, args.profile)),
        ("latency", delivery.run, ()),
        ("geometry", geometry.run, (args.customers, args.repeats)),
        ("cli", cli.run, (args.repeats,)),
    ]
    steps += [("match", match.run, (size, min(args.repeats, 5))) for size in args.match_sizes]
    steps += [
        (
            "engine",
            engine.run,
            (args.engine_customers, args.engine_affected, args.engine_sqlite_affected),
        ),
        (
            "delivery",
            throughput.run,
            (args.delivery_messages, args.delivery_workers, args.delivery_settings),
        ),
        ("rss", rss.run, (args.rss_serve_sizes, args.rss_worker_cases)),
        ("feeds", feeds.run, (args.feed_customers, args.feed_profile)),
        ("cap", cap.run, (args.repeats,)),
        ("dashboard", dashboard.run, (args.dashboard_notifications, args.repeats, BACKENDS)),
        (
            "pages",
            pages.run,
            (args.pages_customers, args.pages_incidents, args.repeats, pages.BACKENDS),
        ),
    ]
    return [step for step in steps if not args.only or step[0] in args.only]


def run_all(args: argparse.Namespace) -> tuple[dict[str, list[Section]], bool]:
    sections: dict[str, list[Section]] = {}
    ok = True
    for part, fn, fn_args in plan(args):
        say(f"{part}: {fn.__name__} …")
        started = time.perf_counter()
        try:
            section = run_isolated(fn, *fn_args)
        except RuntimeError as exc:
            ok = False
            section = Section(f"{part}: {fn.__name__} FAILED", notes=[str(exc)])
        section.figures["wall_s"] = time.perf_counter() - started
        sections.setdefault(part, []).append(section)
    return sections, ok


def meta(args: argparse.Namespace, wall_s: float, load: dict[str, Any]) -> dict[str, Any]:
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average": load,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "wall_s": wall_s,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "geos": shapely.geos_version_string,
        "sqlite": sqlite3.sqlite_version,
        "packages": {name: _version(name) for name in PACKAGES},
        "commit": _commit(),
        "clock": str(time.get_clock_info("perf_counter")),
    }


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _commit() -> str | None:
    """The checked-out commit (read-only `git rev-parse`), if this is a git checkout."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except OSError:
        return None
    return done.stdout.strip() or None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    drop_outage_notify_env()
    load = {"before": _load_average()}
    started = time.perf_counter()
    by_part, ok = run_all(args)
    sections = [section for part in by_part.values() for section in part]
    wall_s = time.perf_counter() - started
    load["after"] = _load_average()
    mode = "quick" if args.quick else "full"
    print(f"outage_notify bench ({mode}: {args.customers:,} synthetic customers), {wall_s:.0f} s")
    print(
        f"machine: {os.cpu_count()} CPUs; 1-min load average {load['before']} before, "
        f"{load['after']} after (other work on the machine skews the figures)"
    )
    print(render_table(sections))
    write_json(args.out, meta(args, wall_s, load), sections)
    merge_json(COMMITTED, meta(args, wall_s, load), by_part)
    print(f"\nwritten to {args.out} and (these parts) {COMMITTED}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
