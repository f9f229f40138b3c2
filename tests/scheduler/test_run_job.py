"""`outage-notify run-job NAME`, run as an operator runs it: a subprocess."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from outage_notify.config import Settings
from outage_notify.db.models import Incident
from outage_notify.runtime import Runtime
from outage_notify.scheduler import lease, runs
from outage_notify.scheduler.background import LEASE
from outage_notify.scheduler.jobs import JOBS
from outage_notify.timeutil import utcnow
from tests.scheduler.test_retention import add_customers, add_incident
from tests.test_cli import run


def runtime_on(database_url: str) -> Runtime:
    return Runtime.build(
        Settings(database_url=database_url, dispatcher_enabled=False, scheduler_enabled=False)
    )


@pytest.mark.parametrize("name", sorted(JOBS))
def test_each_job_runs_once_prints_one_json_line_and_is_recorded(
    database_url: str, name: str
) -> None:
    result = run(database_url, "run-job", name)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    printed = json.loads(lines[0])
    assert (printed["job"], printed["ok"], printed["error"]) == (name, True, None)
    assert isinstance(printed["result"], dict) and printed["seconds"] >= 0
    runtime = runtime_on(database_url)
    with runtime.reading() as session:
        last = runs.last_runs(session)[name]
    runtime.close()
    assert last.runs == 1 and last.owner is not None and last.owner.startswith("run-job:")
    assert last.result == printed["result"] and last.error is None


def test_retention_by_hand_purges_even_while_another_process_holds_the_lease(
    database_url: str,
) -> None:
    runtime = runtime_on(database_url)
    now = utcnow()
    with runtime.transaction() as session:
        lease.acquire(session, name=LEASE, owner="busy-worker", now=now, ttl=timedelta(minutes=10))
        pks = add_customers(session, 2)
        add_incident(session, "old", closed=now - timedelta(days=731), customers=pks)
        add_incident(session, "kept", closed=now - timedelta(days=700), customers=pks)
    result = run(database_url, "run-job", "retention")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert (printed["result"]["incidents"], printed["result"]["notifications"]) == (1, 4)
    with runtime.reading() as session:
        assert set(session.scalars(select(Incident.id))) == {"kept"}
        still = lease.holder(session, name=LEASE, now=utcnow())
    runtime.close()
    assert still is not None and still.owner == "busy-worker"


def test_retention_days_is_read_from_the_environment(database_url: str) -> None:
    runtime = runtime_on(database_url)
    now = utcnow()
    with runtime.transaction() as session:
        pks = add_customers(session, 1)
        add_incident(session, "month-old", closed=now - timedelta(days=31), customers=pks)
    runtime.close()
    kept = run(database_url, "run-job", "retention")
    assert json.loads(kept.stdout)["result"]["incidents"] == 0
    env = {"OUTAGE_NOTIFY_RETENTION_DAYS": "30"}
    purged = run(database_url, "run-job", "retention", extra_env=env)
    assert json.loads(purged.stdout)["result"]["incidents"] == 1


@pytest.mark.parametrize("args", [("run-job", "no-such-job"), ("run-job",)])
def test_an_unknown_or_missing_name_exits_2_naming_the_jobs(
    database_url: str, args: tuple[str, ...]
) -> None:
    result = run(database_url, *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().count("\n") == 0
    assert all(name in result.stderr for name in JOBS)


def test_list_names_every_job_with_its_period(database_url: str) -> None:
    result = run(database_url, "run-job", "--list")
    assert result.returncode == 0, result.stderr
    listed = [line.split("\t") for line in result.stdout.splitlines()]
    assert [row[0] for row in listed] == list(JOBS)
    assert all(row[1].startswith("every ") and row[2] for row in listed)


def test_poll_outages_by_hand_reads_the_feeds_and_creates_their_incidents(
    database_url: str,
) -> None:
    from outage_notify.customers.service import upsert_customers
    from outage_notify.ingest.customers import CustomerRules, parse_json_list
    from tests.standins.feeds import FeedServer
    from tests.town import cells, town

    runtime = runtime_on(database_url)
    with runtime.transaction() as session:
        parsed = parse_json_list(town(), CustomerRules())
        upsert_customers(session, records=[r for _, r in parsed.records], now=utcnow())
    runtime.close()
    feature = {
        "type": "Feature",
        "id": "OMS-77",
        "geometry": cells(0, 0, 1, 1),
        "properties": {"started_at": "2026-11-25T16:00:00+02:00", "cause": "storm"},
    }
    body = json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()
    with FeedServer() as feeds:
        feeds.serve("/o.geojson", body)
        env = {"OUTAGE_NOTIFY_OUTAGE_FEEDS": feeds.url("/o.geojson")}
        result = run(database_url, "run-job", "poll-outages", extra_env=env)
    assert result.returncode == 0, result.stderr
    polled = json.loads(result.stdout)["result"]["feeds"]
    assert [(f["read"], f["created"], f["rejected"]) for f in polled] == [(True, 1, 0)]
    with runtime_on(database_url).reading() as session:
        found = session.scalars(select(Incident.external_id)).all()
    assert found == ["OMS-77"]
