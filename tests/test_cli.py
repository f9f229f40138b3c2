"""The `outage-notify` command line, run as a user runs it: a subprocess with the environment."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import func, select

from outage_notify.auth.secret import SecretKey
from outage_notify.config import Settings
from outage_notify.customers.contacts import PURPOSE as CONTACTS
from outage_notify.customers.contacts import ContactHasher
from outage_notify.db.engine import make_engine
from outage_notify.db.migrate import alembic_config, at_head, upgrade
from outage_notify.db.models import ApiKey, Customer, Erasure, FeederLine, Notification
from outage_notify.runtime import Runtime
from tests.backends import Databases, dump

CSV = """customer_id,name,address,phone,email,language,lat,lon,channels,feeder,transformer,quiet_hours,priority
K-1,Maija Virtanen,Kuusitie 1,040 123 4567,maija@example.com,fi,60.17,24.94,sms;email,F-1,T-1,22:00-07:00,Life_Support
K-2,Bad Phone,Kuusitie 2,+358 40 12,,sv,60.17,24.95,,F-1,T-1,
K-3,Anna Lind,Kuusitie 3,,anna@example.com,sv,60.18,24.95,email,F-2,,
K-4,Far Away,Nowhere,,,en,95,24.9,,,,
"""


def run(
    database_url: str,
    *args: str,
    stdin: str | None = None,
    extra_env: dict[str, str] | None = None,
    python: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OUTAGE_NOTIFY_DATABASE_URL": database_url, **(extra_env or {})}
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


def test_a_command_brings_a_new_or_an_older_database_to_head(databases: Databases) -> None:
    new, older = databases.empty(), databases.empty()
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


DEMO_FEEDERS = Path(__file__).parent.parent / "fixtures" / "demo_town" / "feeders.geojson"


def feeder_file(path: Path, *features: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": list(features)}))
    return path


def feeder(feeder_id: Any, *points: list[float], kind: str = "LineString") -> dict[str, Any]:
    coordinates: Any = list(points) if kind == "LineString" else [list(points)]
    return {
        "type": "Feature",
        "properties": {"feeder": feeder_id},
        "geometry": {"type": kind, "coordinates": coordinates},
    }


def stored_feeders(database_url: str) -> list[str]:
    runtime = Runtime.build(Settings(database_url=database_url, dispatcher_enabled=False))
    with runtime.transaction() as session:
        found = sorted(session.scalars(select(FeederLine.feeder)))
    runtime.close()
    return found


def test_grid_import_replaces_the_network_and_reports_rejections_with_reasons(
    empty_database_url: str, tmp_path: Path
) -> None:
    url = empty_database_url  # the command brings a new database to head first
    first = feeder_file(
        tmp_path / "feeders.geojson",
        feeder("F-1", [25.66, 60.39], [25.67, 60.40]),
        feeder("F-2", [25.66, 60.39], [25.64, 60.38], kind="MultiLineString"),
        feeder("F-3", [60.39, 25.66], [60.40, 125.67]),
        feeder(None, [25.66, 60.39], [25.65, 60.38]),
    )
    result = run(url, "grid", "import", str(first))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "imported 2, removed 0, rejected 2",
        "rejected index 2 (F-3): line coordinates out of range: GeoJSON is [lon, lat] with lon "
        "in -180..180 and lat in -90..90",
        "rejected index 3: feature names no feeder "
        "(looked at properties.feeder, properties.feeder_id, id)",
    ]
    assert stored_feeders(url) == ["F-1", "F-2"]
    second = feeder_file(tmp_path / "later.geojson", feeder("F-2", [25.66, 60.39], [25.63, 60.37]))
    again = run(url, "grid", "import", str(second))
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [
        "imported 1, removed 1, rejected 0",
        "removed, no line in the file: F-1",
    ]
    assert stored_feeders(url) == ["F-2"]


def test_grid_import_of_an_unusable_file_fails_with_one_line_and_keeps_the_network(
    database_url: str, tmp_path: Path
) -> None:
    good = feeder_file(tmp_path / "good.geojson", feeder("F-1", [25.66, 60.39], [25.67, 60.4]))
    assert run(database_url, "grid", "import", str(good)).returncode == 0
    missing = run(database_url, "grid", "import", str(tmp_path / "nope.geojson"))
    assert missing.returncode == 1
    assert missing.stderr.strip().count("\n") == 0 and "cannot read" in missing.stderr
    not_json = tmp_path / "feeders.csv"
    not_json.write_text("feeder,wkt\nF-1,LINESTRING(0 0, 1 1)\n")
    refused = run(database_url, "grid", "import", str(not_json))
    assert refused.returncode == 1 and "not valid JSON" in refused.stderr
    nothing_good = feeder_file(tmp_path / "bad.geojson", feeder("F-9", [25.66, 60.39]))
    empty = run(database_url, "grid", "import", str(nothing_good))
    assert empty.returncode == 1
    assert empty.stdout.splitlines() == [
        "rejected index 0 (F-9): a line needs at least 2 distinct positions"
    ]
    assert "no feeder line to import (1 rejected)" in empty.stderr
    assert "left as they were" in empty.stderr
    assert stored_feeders(database_url) == ["F-1"]


def test_grid_import_of_the_demo_town(database_url: str) -> None:
    result = run(database_url, "grid", "import", str(DEMO_FEEDERS))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["imported 12, removed 0, rejected 0"]
    assert stored_feeders(database_url) == [f"F-{n:02d}" for n in range(1, 13)]


def test_erase_removes_the_customer_and_keeps_only_a_tombstone_keyed_by_the_secret(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(CSV, encoding="utf-8")
    run(database_url, "customers", "import", str(path))
    exported = run(database_url, "customers", "export", "K-1")
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    assert data["customer"]["phone"] == "+358401234567"
    assert data["customer"]["priority"] == "life_support"
    assert run(database_url, "customers", "erase", "K-1").returncode == 0
    assert run(database_url, "customers", "export", "K-1").returncode == 1
    # No secret was configured: the first run made one beside the database, not inside it.
    key_file = tmp_path / "outage_notify.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    hasher = ContactHasher(SecretKey(key_file.read_bytes().strip()).derive(CONTACTS))
    runtime = Runtime.build(Settings(database_url=database_url, dispatcher_enabled=False))
    with runtime.transaction() as session:
        tombstone = session.execute(
            select(Erasure.customer_hash, Erasure.channel, Erasure.address_hash)
        ).all()
        everything = dump(runtime.engine)
    runtime.close()
    assert sorted(tuple(row) for row in tombstone) == sorted(
        [
            (hasher.customer("K-1"), "sms", hasher.contact("sms", "+358401234567")),
            (hasher.customer("K-1"), "email", hasher.contact("email", "maija@example.com")),
        ]
    )
    for trace in ("K-1", "Maija", "Kuusitie 1", "358401234567", "maija@example.com"):
        assert trace not in everything


def test_demo_plays_the_storm_into_the_dev_inbox(database_url: str) -> None:
    result = run(database_url, "demo")
    assert result.returncode == 0, result.stderr
    assert "Demo town loaded: 5699 customers" in result.stdout
    assert "Sign in at /login" in result.stdout
    assert "  demo-agent  " in result.stdout and "  demo-operator  " in result.stdout
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
    assert set(kinds) >= {"outage", "etr_update", "restored", "planned_notice"}
    assert unheld == 0


def many_customers(count: int) -> str:
    """A header and `count` rows on a 0.005° grid in Helsinki."""
    rows = [
        f"N-{i},,,,,fi,{60.15 + i // 20 * 0.005:.3f},{24.90 + i % 20 * 0.005:.3f},,,,"
        for i in range(count)
    ]
    return CSV.splitlines()[0] + "\n" + "\n".join(rows) + "\n"


def test_import_warns_of_customers_far_outside_the_territory(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    walk = "WALK-9,,,,,fi,24.95,60.17,,,,\nFAR-1,,,,,fi,-33.9,18.4,,,,\n"
    path.write_text(many_customers(200) + walk + CSV.splitlines()[4] + "\n", encoding="utf-8")
    result = run(database_url, "customers", "import", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "created 202, updated 0, rejected 1",
        "rejected line 204 (K-4): lat '95' is out of range -90..90",
        "warning: WALK-9 lies far outside the territory "
        "(lat 24.95, lon 60.17: are lat and lon swapped?)",
        "warning: FAR-1 lies far outside the territory (lat -33.90, lon 18.40)",
    ]
    assert count(database_url, Customer) == 202


def test_import_rejects_rows_outside_a_configured_territory(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(
        CSV.replace(
            "K-3,Anna Lind,Kuusitie 3,,anna@example.com,sv,60.18,24.95",
            "K-3,Anna Lind,Kuusitie 3,,anna@example.com,sv,24.95,60.18",
        )
    )
    env_run = subprocess.run(
        [sys.executable, "-m", "outage_notify", "customers", "import", str(path)],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "OUTAGE_NOTIFY_DATABASE_URL": database_url,
            "OUTAGE_NOTIFY_TERRITORY": "19.0,59.5,31.6,70.1",
        },
        timeout=300,
        check=False,
    )
    assert env_run.returncode == 0, env_run.stderr
    out = env_run.stdout.splitlines()
    assert out[0] == "created 1, updated 0, rejected 3"
    assert out[2].startswith("rejected line 4 (K-3): location (lat 24.95, lon 60.18) lies outside")
    assert "swapped" in out[2]
    assert not any(line.startswith("warning") for line in out)


def test_a_missing_territory_file_is_a_configuration_error(
    database_url: str, tmp_path: Path
) -> None:
    missing = tmp_path / "territory.geojson"
    result = subprocess.run(
        [sys.executable, "-m", "outage_notify", "db", "upgrade"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "OUTAGE_NOTIFY_DATABASE_URL": database_url,
            "OUTAGE_NOTIFY_TERRITORY": str(missing),
        },
        timeout=300,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("outage-notify: configuration:")
    assert f"{missing} does not exist" in result.stderr
    assert result.stderr.strip().count("\n") == 0


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


def imported_packages(database_url: str, *args: str, stdin: str | None = None) -> set[str]:
    """The top-level packages the command imported, from Python's own -X importtime log."""
    result = run(database_url, *args, python=("-X", "importtime"), stdin=stdin)
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
        # APScheduler is for the processes that keep the clock, not for a sweep run by hand.
        loads("run-job", "retention", must_not_load=AT_HEAD),
        # Lines and their index need shapely and numpy; PROJ only for a projected file.
        pytest.param(
            ("grid", "import", str(DEMO_FEEDERS)),
            AT_HEAD - {"shapely", "numpy"},
            id="grid import",
        ),
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


def test_importing_a_csv_loads_the_validators_and_the_territory_check_only(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(CSV, encoding="utf-8")
    loaded = imported_packages(database_url, "customers", "import", str(path))
    assert {"phonenumbers", "email_validator"} <= loaded
    # numpy and shapely derive the territory that strays are reported against; nothing else.
    assert loaded & (AT_HEAD - {"numpy", "shapely"}) == set()


def test_a_worker_never_migrates_it_refuses_a_database_behind(empty_database_url: str) -> None:
    url = empty_database_url
    refused = run(url, "worker", "--once")
    assert refused.returncode == 1
    assert "run `outage-notify db upgrade` first" in refused.stderr
    assert refused.stderr.strip().count("\n") == 0
    assert run(url, "db", "upgrade").returncode == 0
    assert run(url, "worker", "--once").returncode == 0


@pytest.mark.parametrize(("flags", "workers"), [([], "ok"), (["--no-worker"], "disabled")])
def test_serve_runs_the_workers_unless_told_not_to(
    database_url: str, flags: list[str], workers: str
) -> None:
    import httpx

    from tests.conftest import TEST_SECRET
    from tests.standins.net import free_port, wait_http

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "outage_notify", "serve", "--port", str(port), *flags],
        env={
            **os.environ,
            "OUTAGE_NOTIFY_DATABASE_URL": database_url,
            "OUTAGE_NOTIFY_SECRET_KEY": TEST_SECRET,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/healthz", timeout=60)
        ready = httpx.get(base + "/readyz", timeout=10).json()
        assert ready["checks"]["dispatcher"] == workers
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
