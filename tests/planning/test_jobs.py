"""Planning as durable background work: a request records a job, workers plan it in chunks,
idempotently, and revisions that land while one is planning coalesce."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from outage_notify.app import create_app
from outage_notify.auth.apikeys import create_key
from outage_notify.clock import ManualClock
from outage_notify.config import Settings
from outage_notify.customers.service import upsert_customers
from outage_notify.db.models import (
    Customer,
    IncidentCustomer,
    IncidentRevision,
    Notification,
    OutboxItem,
    PlanningJob,
)
from outage_notify.ingest.customers import CustomerRules, parse_json_list
from outage_notify.ingest.operator_api import incident_from_body
from outage_notify.matching.geometry import DEFAULT_MAX_VERTICES
from outage_notify.planning import jobs
from outage_notify.runtime import Runtime
from tests.engine import patch_incident, upsert_incident
from tests.town import cells, town

NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)  # 18:00 in Helsinki: nobody's quiet hours
EVERYONE = cells(0, 0, 9, 4)  # the whole town: 50 customers


@pytest.fixture
def make_runtime(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., Runtime]]:
    made: list[Runtime] = []

    def make(**overrides: Any) -> Runtime:
        runtime = Runtime.build(make_settings(**overrides), clock=ManualClock(NOW))
        made.append(runtime)
        _load(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


@pytest.fixture
def keys_for() -> Callable[[Runtime], dict[str, Any]]:
    def make(runtime: Runtime) -> dict[str, Any]:
        headers = {}
        with runtime.transaction() as session:
            for role in ("operator", "agent"):
                _, key = create_key(session, role=role, name=f"test-{role}", now=NOW)
                headers[role] = {"Authorization": f"Bearer {key}"}
        return headers

    return make


def _load(runtime: Runtime) -> None:
    parsed = parse_json_list(town(channels="sms"), CustomerRules())
    with runtime.transaction() as session:
        upsert_customers(session, records=[r for _, r in parsed.records], now=NOW)


def _messages(runtime: Runtime, channel: str = "sms") -> Counter[tuple[int, str]]:
    with runtime.reading() as session:
        rows = session.execute(
            select(Notification.customer_pk, Notification.kind).where(
                Notification.channel == channel, Notification.status != "suppressed"
            )
        )
        return Counter((pk, kind) for pk, kind in rows)


def _job(runtime: Runtime, incident_id: str) -> PlanningJob:
    with runtime.reading() as session:
        job = session.get(PlanningJob, incident_id)
        assert job is not None
        return job


def _etr(hours: float) -> str:
    return (NOW + timedelta(hours=hours)).isoformat()


def test_a_change_is_recorded_with_a_job_and_planned_only_by_a_worker(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime()
    outcome = upsert_incident(
        runtime, {"external_id": "J-1", "area": EVERYONE}, now=NOW, plan=False
    )
    assert outcome.incident.affected_count == 50  # counted at once, set-based
    assert _messages(runtime) == Counter()
    assert _job(runtime, outcome.incident.id).state == "pending"
    runtime.planner.drain()
    assert _job(runtime, outcome.incident.id).state == "done"
    assert sum(_messages(runtime).values()) == 50


def test_a_storm_is_planned_in_chunks_and_the_first_messages_are_queued_after_the_first(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(planning_chunk=8)
    incident = upsert_incident(
        runtime, {"external_id": "J-2", "area": EVERYONE}, now=NOW, plan=False
    ).incident
    worker = "test-worker"
    with runtime.transaction() as session:
        assert jobs.claim(session, worker=worker, now=NOW, lease=timedelta(seconds=45))
    steps = []
    for _ in range(3):  # match and a first chunk, then two chunks
        with runtime.transaction() as session:
            steps.append(
                jobs.advance(
                    session,
                    incident_id=incident.id,
                    worker=worker,
                    context=runtime.planner.context,
                    now=NOW,
                )
            )
    assert [s.step for s in steps] == ["planned", "planned", "planned"]
    with runtime.reading() as session:
        queued = session.scalar(select(func.count()).select_from(OutboxItem))
    assert queued == 24  # three chunks of 8, waiting for the dispatcher already
    with runtime.transaction() as session:
        jobs.release(session, incident_id=incident.id, worker=worker)
    runtime.planner.drain()
    assert _job(runtime, incident.id).chunks == 7  # 50 customers, 8 a chunk
    assert set(_messages(runtime).values()) == {1}
    assert sum(_messages(runtime).values()) == 50


def test_a_chunk_planned_twice_sends_nothing_twice(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime(planning_chunk=7)
    upsert_incident(runtime, {"external_id": "J-3", "area": EVERYONE}, now=NOW)
    before = _messages(runtime)
    with runtime.transaction() as session:  # as if every chunk's work were lost and redone
        session.execute(update(IncidentCustomer).values(planned_version=None))
        session.execute(update(PlanningJob).values(state="pending", cursor=0))
    runtime.planner.drain()
    assert _messages(runtime) == before


def test_a_worker_that_dies_holding_a_job_is_replaced_once_its_lease_runs_out(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(planning_chunk=10)
    incident = upsert_incident(
        runtime, {"external_id": "J-4", "area": EVERYONE}, now=NOW, plan=False
    ).incident
    with runtime.transaction() as session:
        assert jobs.claim(session, worker="dead", now=NOW, lease=timedelta(seconds=45))
    assert runtime.planner.drain() == 0  # still leased: nobody else takes it
    runtime.clock.advance(timedelta(seconds=46))  # type: ignore[attr-defined]
    assert runtime.planner.drain() > 0
    assert _job(runtime, incident.id).state == "done"
    assert sum(_messages(runtime).values()) == 50


def test_revisions_that_land_before_planning_coalesce_into_the_latest_state(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime()
    body = {"external_id": "J-5", "area": EVERYONE, "etr": _etr(2)}
    incident = upsert_incident(runtime, body, now=NOW, plan=False).incident
    patch_incident(runtime, incident.id, {"etr": _etr(4)}, now=NOW, plan=False)
    patch_incident(runtime, incident.id, {"etr": _etr(6)}, now=NOW, plan=False)
    runtime.planner.drain()
    assert set(_messages(runtime)) == {(pk, "outage") for pk, _ in _messages(runtime)}
    with runtime.reading() as session:
        told = set(session.scalars(select(IncidentCustomer.told_etr)))
        bodies = set(
            session.scalars(select(Notification.body).where(Notification.kind == "outage"))
        )
    assert told == {NOW + timedelta(hours=6)}
    stale = ("20:00", "20.00", "22:00", "22.00", "8:00 PM", "10:00 PM")  # never to be told
    assert not [b for b in bodies if any(time in b for time in stale)]


def test_a_revision_in_the_middle_of_a_pass_reaches_everyone_at_its_latest_state(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(planning_chunk=10)
    incident = upsert_incident(
        runtime, {"external_id": "J-6", "area": EVERYONE, "etr": _etr(2)}, now=NOW, plan=False
    ).incident
    runtime.planner.run_once(turn_seconds=0)  # the match and the first chunk: ten told "in 2 h"
    patch_incident(runtime, incident.id, {"etr": _etr(5)}, now=NOW, plan=False)
    runtime.planner.drain()
    kinds = Counter(kind for _, kind in _messages(runtime))
    assert kinds == {"outage": 50, "etr_update": 10}  # only those told the old ETR hear again
    with runtime.reading() as session:
        told = set(session.scalars(select(IncidentCustomer.told_etr)))
    assert told == {NOW + timedelta(hours=5)}


def test_growth_and_shrink_are_planned_for_those_who_joined_or_left(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime()
    incident = upsert_incident(
        runtime, {"external_id": "J-7", "area": cells(0, 0, 4, 4)}, now=NOW
    ).incident
    patch_incident(runtime, incident.id, {"area": cells(2, 0, 9, 4)}, now=NOW)
    kinds = Counter(kind for _, kind in _messages(runtime))
    # 25 in the first area; 15 more join (cols 5-9 minus none), 10 leave (cols 0-1)
    assert kinds == {"outage": 25 + 25, "restored": 10}


def test_every_revision_names_who_made_it(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime()
    incident = upsert_incident(runtime, {"external_id": "J-8", "area": EVERYONE}, now=NOW).incident
    with runtime.reading() as session:
        actors = session.scalars(
            select(IncidentRevision.actor).where(IncidentRevision.incident_id == incident.id)
        ).all()
    assert actors == ["apikey:test"]


def test_the_api_answers_before_planning_and_says_when_it_is_done(
    make_runtime: Callable[..., Runtime], keys_for: Callable[[Runtime], dict[str, Any]]
) -> None:
    runtime = make_runtime()
    headers = keys_for(runtime)
    with TestClient(create_app(runtime=runtime)) as client:
        answer = client.post(
            "/api/v1/incidents",
            json={"external_id": "J-9", "area": EVERYONE},
            headers=headers["operator"],
        )
        assert answer.status_code == 201
        body = answer.json()
        assert (body["affected_customers"], body["planning"], body["notifications"]) == (
            50,
            "pending",
            {},
        )
        runtime.planner.drain()
        later = client.get(f"/api/v1/incidents/{body['id']}", headers=headers["agent"]).json()
        assert later["planning"] == "done"
        assert later["notifications"] == {"queued": 50, "delivered": 50}  # sms + in-app
        with runtime.reading() as session:
            actor = session.scalar(select(IncidentRevision.actor))
        assert actor == "apikey:test-operator"


@pytest.mark.sqlite_only(reason="the in-memory index is SQLite's; PostGIS keeps none")
def test_the_customer_index_is_reloaded_outside_write_transactions(
    make_runtime: Callable[..., Runtime],
    keys_for: Callable[[Runtime], dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On SQLite a reload inside a write transaction would hold every writer up for seconds
    with millions of customers: requests and planning steps load it in a read session first."""
    from outage_notify.matching import index_cache

    runtime = make_runtime()
    headers = keys_for(runtime)
    binds: list[object] = []
    real = index_cache.load_index

    def spy(session: Any) -> Any:
        binds.append(session.get_bind())
        return real(session)

    monkeypatch.setattr(index_cache, "load_index", spy)
    with TestClient(create_app(runtime=runtime)) as client:
        _load(runtime)  # the customers' revision moves: the next match reloads
        made = client.post(
            "/api/v1/incidents",
            json={"external_id": "J-10", "area": EVERYONE},
            headers=headers["operator"],
        )
        assert made.status_code == 201
        _load(runtime)
        runtime.planner.drain()
    assert binds and all(bind is runtime.read_engine for bind in binds)


def test_an_incident_whose_planning_fails_waits_and_holds_no_other_up(
    make_runtime: Callable[..., Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = make_runtime()
    broken = upsert_incident(
        runtime, {"external_id": "J-11", "area": cells(0, 0, 1, 1)}, now=NOW, plan=False
    ).incident
    fine = upsert_incident(
        runtime, {"external_id": "J-12", "area": cells(5, 0, 6, 1)}, now=NOW, plan=False
    ).incident
    matcher = runtime.planner.context.matcher
    real = matcher.move_ties

    def fail_for_one(session: Any, **kw: Any) -> Any:
        if kw["incident_id"] == broken.id:
            raise RuntimeError("the area cannot be read")
        return real(session, **kw)

    monkeypatch.setattr(matcher, "move_ties", fail_for_one)
    runtime.planner.drain()
    assert _job(runtime, fine.id).state == "done"
    stuck = _job(runtime, broken.id)
    assert stuck.state == "pending" and "the area cannot be read" in (stuck.last_error or "")
    assert runtime.planner.drain() == 0  # left alone for a while, not retried in a loop
    monkeypatch.setattr(matcher, "move_ties", real)
    runtime.clock.advance(timedelta(seconds=31))  # type: ignore[attr-defined]
    runtime.planner.drain()
    done = _job(runtime, broken.id)
    assert done.state == "done" and done.last_error is None


def test_a_step_that_lost_a_race_is_tried_again_within_seconds(
    make_runtime: Callable[..., Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deadlock or a lock timeout says nothing about the incident: it is tried again after
    a second, not left for the half minute a real failure waits."""
    from sqlalchemy.exc import OperationalError

    class Deadlock(Exception):
        sqlstate = "40P01"

    runtime = make_runtime()
    made = upsert_incident(
        runtime, {"external_id": "J-14", "area": cells(0, 0, 1, 1)}, now=NOW, plan=False
    ).incident
    matcher = runtime.planner.context.matcher
    real = matcher.move_ties
    raised: list[int] = []

    def deadlock_once(session: Any, **kw: Any) -> Any:
        if not raised:
            raised.append(1)
            raise OperationalError("UPDATE …", {}, Deadlock("deadlock detected"))
        return real(session, **kw)

    monkeypatch.setattr(matcher, "move_ties", deadlock_once)
    runtime.planner.drain()
    assert _job(runtime, made.id).state == "pending"
    runtime.clock.advance(timedelta(seconds=2))  # type: ignore[attr-defined]
    runtime.planner.drain()
    assert _job(runtime, made.id).state == "done"


def test_the_first_messages_leave_while_later_chunks_are_still_being_planned(
    make_settings: Callable[..., Settings],
) -> None:
    """With the planner and the dispatcher running as threads, as in `serve`: some messages
    are sent before the last chunk is planned."""
    runtime = Runtime.build(make_settings(planning_chunk=5, dispatcher_enabled=True))
    try:
        parsed = parse_json_list(town(channels="sms"), CustomerRules())
        with runtime.transaction() as session:
            upsert_customers(session, records=[r for _, r in parsed.records], now=NOW)
        runtime.start_workers()
        record = incident_from_body(
            {"external_id": "J-13", "area": EVERYONE}, max_vertices=DEFAULT_MAX_VERTICES
        )
        with runtime.transaction() as session:  # as the API does, at the real time
            incident = runtime.incidents.upsert(
                session, source="operator", record=record, actor="test", now=runtime.clock.now()
            ).incident
        runtime.after_commit()
        deadline = time.monotonic() + 60
        while _job(runtime, incident.id).state != "done" and time.monotonic() < deadline:
            time.sleep(0.05)
        job = _job(runtime, incident.id)
        with runtime.reading() as session:
            first_sent = session.scalar(
                select(func.min(Notification.sent_at)).where(Notification.channel == "sms")
            )
        assert job.state == "done" and job.chunks == 10
        assert first_sent is not None and job.done_at is not None
        assert first_sent < job.done_at
    finally:
        runtime.close()


def test_priority_customers_are_planned_in_the_first_chunks_and_claimed_first(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(planning_chunk=4)
    # The last customers in key order are the ones whose life depends on power.
    people = town(channels="sms")
    people[-1]["priority"], people[-2]["priority"] = "life_support", "critical_facility"
    parsed = parse_json_list(people, CustomerRules())
    with runtime.transaction() as session:
        upsert_customers(session, records=[r for _, r in parsed.records], now=NOW)
    upsert_incident(runtime, {"external_id": "J-20", "area": EVERYONE}, now=NOW)
    with runtime.reading() as session:
        rows = session.execute(
            select(Customer.customer_id, OutboxItem.priority)
            .join(Notification, Notification.customer_pk == Customer.id)
            .join(OutboxItem, OutboxItem.notification_id == Notification.id)
            .where(Notification.channel == "sms")
            .order_by(Notification.id)
        ).all()
    assert len(rows) == 50
    first_two = {customer_id for customer_id, _ in rows[:2]}
    assert first_two == {people[-1]["customer_id"], people[-2]["customer_id"]}
    assert [priority for _, priority in rows[:2]] == [15, 15]
    assert {priority for _, priority in rows[2:]} == {10}


@pytest.mark.postgresql_only(reason="the head start is PostGIS's; the in-memory match is whole")
def test_a_new_storm_s_first_chunk_is_tied_and_planned_before_the_rest_is_matched(
    make_runtime: Callable[..., Runtime],
) -> None:
    """The first step ties one chunk (priority customers first) and plans it, so its messages
    are queued before the whole area is matched; the next steps tie and plan everyone else,
    each customer once."""
    runtime = make_runtime(planning_chunk=6)
    people = town(channels="sms")
    people[-1]["priority"] = "life_support"  # last in key order, first in the head start
    parsed = parse_json_list(people, CustomerRules())
    with runtime.transaction() as session:
        upsert_customers(session, records=[r for _, r in parsed.records], now=NOW)
    incident = upsert_incident(
        runtime, {"external_id": "J-30", "area": EVERYONE}, now=NOW, plan=False
    ).incident
    worker = "test-worker"
    with runtime.transaction() as session:
        assert jobs.claim(session, worker=worker, now=NOW, lease=timedelta(seconds=45))
    with runtime.transaction() as session:
        jobs.advance(
            session,
            incident_id=incident.id,
            worker=worker,
            context=runtime.planner.context,
            now=NOW,
        )
    with runtime.reading() as session:
        tied = session.scalar(select(func.count()).select_from(IncidentCustomer))
        job = session.get(PlanningJob, incident.id)
        assert job is not None and job.matched_version == 0  # the rest is not matched yet
    assert tied == 6
    assert _messages(runtime) == Counter({(_pk(runtime, people[-1]["customer_id"]), "outage"): 1})
    with runtime.transaction() as session:
        jobs.release(session, incident_id=incident.id, worker=worker)
    runtime.planner.drain()
    assert _job(runtime, incident.id).state == "done"
    sent = _messages(runtime)
    assert len(sent) == 50 and set(sent.values()) == {1}
    with runtime.reading() as session:
        since = set(session.scalars(select(IncidentCustomer.since)))
    assert len(since) == 1  # the head and the rest: out since the outage began


def _pk(runtime: Runtime, customer_id: str) -> int:
    with runtime.reading() as session:
        found = session.scalar(select(Customer.id).where(Customer.customer_id == customer_id))
        assert found is not None
        return found
