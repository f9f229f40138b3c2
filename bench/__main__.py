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

from bench import cli, delivery, geometry, match, matching, planning
from bench.common import drop_outage_notify_env, run_isolated, say
from bench.report import Section, merge_json, render_table, write_json

RESULTS = Path(__file__).parent / "results"
# Committed with the figures: each run replaces the parts it ran, keeps the others.
COMMITTED = Path(__file__).parent / "results.json"
PARTS = ("matching", "planning", "delivery", "geometry", "cli", "match")
MATCH_SIZES = (100_000, 1_000_000, 5_000_000)
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
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    args.customers = args.customers or (100_000 if args.quick else 1_000_000)
    args.affected = args.affected or min(100_000, args.customers // 10)
    args.match_sizes = args.match_sizes or ((100_000,) if args.quick else MATCH_SIZES)
    return args


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
        ("delivery", delivery.run, ()),
        ("geometry", geometry.run, (args.customers, args.repeats)),
        ("cli", cli.run, (args.repeats,)),
    ]
    steps += [("match", match.run, (size, min(args.repeats, 5))) for size in args.match_sizes]
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
