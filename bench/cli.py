"""4. Start-up of the commands that do not serve, each timed as a whole process (interpreter
start, imports, opening the database, the work, exit), as an operator or a script runs them."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import fresh_database, median_time
from bench.report import Section, ms
from outage_notify import paths

TARGET_S = 1.0
CSV = paths.FIXTURES / "walkthrough" / "customers.csv"
COMMANDS: tuple[tuple[str, ...], ...] = (
    ("--help",),
    ("vapid", "generate"),
    ("db", "upgrade"),
    ("apikey", "create", "--role", "agent", "--name", "bench"),
    ("customers", "import", str(CSV)),
    ("customers", "export", "WALK-1"),
)


def outage_notify(database_url: str, *args: str) -> None:
    env = {**os.environ, "OUTAGE_NOTIFY_DATABASE_URL": database_url}
    subprocess.run(
        [sys.executable, "-m", "outage_notify", *args],
        env=env,
        cwd=paths.HOME,  # the copy of the package whose figures these are
        capture_output=True,
        check=True,
        timeout=120,
    )


def run(repeats: int) -> Section:
    section = Section("4. Command line: whole-process wall time, database already at head")
    with fresh_database("cli") as url:
        outage_notify(url, "customers", "import", str(CSV))
        for args in COMMANDS:
            _add(section, " ".join(args).replace(str(CSV), "walkthrough.csv"), url, args, repeats)
        # Each run erases another customer: an erased one may not come back by re-import.
        to_erase = iter(_import_customers_to_erase(url, repeats))
        timed = median_time(
            lambda customer_id: outage_notify(url, "customers", "erase", customer_id),
            repeats,
            setup=lambda: next(to_erase),
        )
        _row(section, "customers erase", timed.median)
    with tempfile.TemporaryDirectory(prefix="outage-bench-cli-new-") as directory:
        new_databases = iter(f"sqlite:///{Path(directory) / f'{i}.db'}" for i in range(repeats))
        timed = median_time(
            lambda new: outage_notify(new, *COMMANDS[3]), repeats, setup=lambda: next(new_databases)
        )
        section.add("apikey create, new database", "median", ms(timed.median), "ms", "migrates")
    section.notes.append(f"median of {repeats} runs; target under {TARGET_S:.0f} s at head")
    return section


def _import_customers_to_erase(url: str, count: int) -> list[str]:
    ids = [f"ERASE-{i}" for i in range(count)]
    rows = [f"{customer_id},,,,,en,60.39,25.66" for customer_id in ids]
    with tempfile.TemporaryDirectory(prefix="outage-bench-cli-") as directory:
        path = Path(directory) / "to_erase.csv"
        path.write_text("customer_id,name,address,phone,email,language,lat,lon\n" + "\n".join(rows))
        outage_notify(url, "customers", "import", str(path))
    return ids


def _add(section: Section, case: str, url: str, args: tuple[str, ...], repeats: int) -> None:
    timed = median_time(lambda _: outage_notify(url, *args), repeats)
    _row(section, case, timed.median)


def _row(section: Section, case: str, median_s: float) -> None:
    within = "within target" if median_s < TARGET_S else "OVER TARGET"
    section.add(case, "median", ms(median_s), "ms", within)
