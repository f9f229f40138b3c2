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

from bench import cli, delivery, geometry, matching, planning
from bench.common import drop_outage_notify_env, run_isolated, say
from bench.report import Section, render_table, write_json

RESULTS = Path(__file__).parent / "results"
PARTS = ("matching", "planning", "delivery", "geometry", "cli")
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
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    args.customers = args.customers or (100_000 if args.quick else 1_000_000)
    args.affected = args.affected or min(100_000, args.customers // 10)
    return args


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
    return [step for step in steps if not args.only or step[0] in args.only]


def run_all(args: argparse.Namespace) -> tuple[list[Section], bool]:
    sections: list[Section] = []
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
        sections.append(section)
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
    sections, ok = run_all(args)
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
    print(f"\nwritten to {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
