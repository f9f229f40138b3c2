"""The `outage-notify` command line, run as a user runs it: a subprocess with the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import func, select

from outage_notify.config import Settings
from outage_notify.db.engine import make_engine
from outage_notify.db.migrate import alembic_config, at_head, upgrade
from outage_notify.db.models import ApiKey, Customer, Notification, OptOut
from outage_notify.runtime import Runtime

CSV = """customer_id,name,address,phone,email,language,lat,lon,channels,feeder,transformer,quiet_hours
K-1,Maija Virtanen,Kuusitie 1,040 123 4567,maija@example.com,fi,60.17,24.94,sms;email,F-1,T-1,22:00-07:00
K-2,Bad Phone,Kuusitie 2,+358 40 12,,sv,60.17,24.95,,F-1,T-1,
K-3,Anna Lind,Kuusitie 3,,anna@example.com,sv,60.18,24.95,email,F-2,,
K-4,Far Away,Nowhere,,,en,95,24.9,,,,
"""


def run(
    database_url: str, *args: str, stdin: str | None = None, python: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OUTAGE_NOTIFY_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, *python, "-m", "outage_notify", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=300,
        check=False,
    )


def count(database_url: str, model: type) -> int:
    runtime = Runtime.build(Settings(database_url=database_url, dispatcher_enabled=False))
    with runtime.transaction() as session:
        value = session.scalar(select(func.count()).select_from(model)) or 0
    runtime.close()
    return value


def test_apikey_create_prints_the_key_alone_and_stores_only_its_hash(database_url: str) -> None:
    result = run(database_url, "apikey", "create", "--role", "operator", "--name", "ops")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("onk_") and len(lines[0]) > 40
    runtime = Runtime.build(Settings(database_url=database_url, dispatcher_enabled=False))
    with runtime.transaction() as session:
        stored = session.scalars(select(ApiKey)).one()
        assert (stored.role, stored.name) == ("operator", "ops")
        assert lines[0] not in stored.key_hash
    runtime.close()


@pytest.mark.parametrize(
    "args",
    [
        ("apikey", "create", "--role", "root", "--name", "x"),
        ("apikey", "create", "--name", "x"),
        ("no-such-command",),
        (),
    ],
)
def test_bad_usage_exits_2(database_url: str, args: tuple[str, ...]) -> None:
    assert run(database_url, *args).returncode == 2


def test_a_command_brings_a_new_or_an_older_database_to_head(tmp_path: Path) -> None:
    new = f"sqlite:///{tmp_path / 'new.db'}"
    older = f"sqlite:///{tmp_path / 'older.db'}"
    upgrade(older)
    command.downgrade(alembic_config(older), "-1")
    for url in (new, older):
        result = run(url, "apikey", "create", "--role", "agent", "--name", "desk")
        assert result.returncode == 0, result.stderr
        engine = make_engine(url)
        assert at_head(engine)
        engine.dispose()


def test_import_reports_rejected_rows_with_reasons_and_keeps_the_good_ones(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(CSV, encoding="utf-8")
    result = run(database_url, "customers", "import", str(path))
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert out[0] == "created 2, updated 0, rejected 2"
    assert out[1].startswith("rejected line 3 (K-2): phone") and "not a valid number" in out[1]
    assert out[2].startswith("rejected line 5 (K-4): lat")
    again = run(database_url, "customers", "import", str(path))
    assert again.stdout.splitlines()[0] == "created 0, updated 2, rejected 2"
    assert count(database_url, Customer) == 2


def test_import_of_geojson(database_url: str, tmp_path: Path) -> None:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [24.94, 60.17]},
            "properties": {"customer_id": "G-1", "phone": "+358401112223", "language": "en"},
        },
        {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
            "properties": {"customer_id": "G-2"},
        },
    ]
    path = tmp_path / "customers.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    result = run(database_url, "customers", "import", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "created 1, updated 0, rejected 1",
        "rejected index 1 (G-2): geometry must be a Point",
    ]


def test_a_missing_or_unreadable_file_fails_with_one_line(
    database_url: str, tmp_path: Path
) -> None:
    missing = run(database_url, "customers", "import", str(tmp_path / "nope.csv"))
    assert missing.returncode == 1
    assert missing.stderr.strip().count("\n") == 0 and "cannot read" in missing.stderr
    header_only = tmp_path / "bad.csv"
    header_only.write_text("id,x,y\n1,2,3\n")
    bad = run(database_url, "customers", "import", str(header_only))
    assert bad.returncode == 1 and "lacks customer_id, lat, lon" in bad.stderr


def test_export_then_erase_keeps_only_a_hashed_opt_out(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(CSV, encoding="utf-8")
    run(database_url, "customers", "import", str(path))
    exported = run(database_url, "customers", "export", "K-1")
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    assert data["customer"]["phone"] == "+358401234567"
    assert run(database_url, "customers", "erase", "K-1").returncode == 0
    assert run(database_url, "customers", "export", "K-1").returncode == 1
    runtime = Runtime.build(Settings(database_url=database_url, dispatcher_enabled=False))
    with runtime.transaction() as session:
        hashes = session.scalars(select(OptOut.address_hash)).all()
    runtime.close()
    assert len(hashes) == 2
    assert all("358401234567" not in h and "maija" not in h for h in hashes)


def test_demo_plays_the_storm_into_the_dev_inbox(database_url: str) -> None:
    result = run(database_url, "demo")
    assert result.returncode == 0, result.stderr
    assert "Demo town loaded: 5699 customers" in result.stdout
    assert "Agent key for /agent: onk_" in result.stdout
    assert count(database_url, Customer) == 5699
    runtime = Runtime.build(Settings(database_url=database_url, dispatcher_enabled=False))
    with runtime.transaction() as session:
        kinds = dict(
            session.execute(
                select(Notification.kind, func.count())
                .where(Notification.provider == "dev_sink")
                .group_by(Notification.kind)
            ).all()
        )
        # Whatever is still queued is held for someone's quiet hours, nothing else.
        unheld = session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.status == "queued", Notification.not_before.is_(None))
        )
    runtime.close()
    assert set(kinds) >= {"outage", "etr_update", "restored", "planned"}
    assert unheld == 0


# ---- start-up: what a command that does not serve loads ----------------------------------------

# None of these is needed by a command that does not serve, and together they are most of the
# start-up time: the web stack, the providers' SDKs, the geometry and data-frame stack,
# templates and localisation, the scheduler and the metrics.
SERVING_ONLY = frozenset(
    {
        "fastapi",
        "starlette",
        "uvicorn",
        "jinja2",
        "babel",
        "apscheduler",
        "prometheus_client",
        "twilio",
        "pywebpush",
        "requests",
        "aiohttp",
        "shapely",
        "pyproj",
        "numpy",
        "pandas",
        "geopandas",
    }
)
# A database already at head is recognised without Alembic (it reads alembic_version and the
# revision ids written in migrations/versions/): Alembic is loaded only to migrate.
AT_HEAD = SERVING_ONLY | {"alembic"}


def imported_packages(database_url: str, *args: str) -> set[str]:
    """The top-level packages the command imported, from Python's own -X importtime log."""
    result = run(database_url, *args, python=("-X", "importtime"))
    assert result.returncode == 0, result.stderr
    names = (
        line.rsplit("|", 1)[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    )
    return {name.split(".")[0] for name in names}


def loads(*args: str, must_not_load: frozenset[str]) -> Any:
    return pytest.param(args, must_not_load, id=" ".join(args))


@pytest.mark.parametrize(
    ("args", "must_not_load"),
    [
        # Prints argparse's help: not even the settings (pydantic) or the database.
        loads("--help", must_not_load=AT_HEAD | {"sqlalchemy", "pydantic", "pydantic_settings"}),
        # Makes a key pair with py_vapid / cryptography; no database.
        loads("vapid", "generate", must_not_load=AT_HEAD | {"sqlalchemy"}),
        loads("db", "upgrade", must_not_load=AT_HEAD),
        loads("apikey", "create", "--role", "agent", "--name", "desk", must_not_load=AT_HEAD),
        loads("customers", "export", "K-1", must_not_load=AT_HEAD),
        loads("customers", "erase", "K-1", must_not_load=AT_HEAD),
    ],
)
def test_a_command_that_does_not_serve_loads_only_what_it_uses(
    database_url: str, tmp_path: Path, args: tuple[str, ...], must_not_load: frozenset[str]
) -> None:
    if args[0] == "customers":  # export and erase need K-1 to be there
        path = tmp_path / "customers.csv"
        path.write_text(CSV, encoding="utf-8")
        assert run(database_url, "customers", "import", str(path)).returncode == 0
    loaded = imported_packages(database_url, *args)
    assert loaded & must_not_load == set()


def test_importing_a_csv_loads_the_validators_but_not_the_geometry_stack(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(CSV, encoding="utf-8")
    loaded = imported_packages(database_url, "customers", "import", str(path))
    assert {"phonenumbers", "email_validator"} <= loaded
    assert loaded & AT_HEAD == set()
