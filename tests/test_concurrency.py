"""Real concurrent clients against PostgreSQL, where transactions truly overlap (SQLite has one
writer at a time, so these races cannot happen there)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update

from outage_notify.clock import ManualClock
from outage_notify.config import Settings
from outage_notify.customers.service import upsert_customers
from outage_notify.db.models import (
    Customer,
    Incident,
    IncidentCustomer,
    Notification,
    OutboxItem,
    PlanningJob,
    TimelineEvent,
)
from outage_notify.incidents import service as incidents
from outage_notify.ingest.customers import CustomerRules, parse_json_list
from outage_notify.runtime import Runtime
from tests.conftest import LiveServer
from tests.engine import patch_incident, upsert_incident
from tests.town import cells, customer

pytestmark = pytest.mark.postgresql_only(reason="overlapping write transactions")
NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


def _load(runtime: Runtime, people: list[dict[str, Any]]) -> None:
    parsed = parse_json_list(people, CustomerRules())
    with runtime.transaction() as session:
        upsert_customers(session, records=[r for _, r in parsed.records], now=NOW)


def _both_find_nothing_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """Holds each request after its first look-up until the other has looked too: both see no
    incident, as two requests arriving in the same millisecond do."""
    barrier = threading.Barrier(2, timeout=10)
    real = incidents._find
    seen: set[int] = set()

    def find(session: Any, **kw: Any) -> Any:
        found = real(session, **kw)
        if threading.get_ident() not in seen:
            seen.add(threading.get_ident())
            barrier.wait()
        return found

    monkeypatch.setattr(incidents, "_find", find)


def test_two_posts_of_the_same_new_incident_make_one_incident_one_201_and_one_200(
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    live_port: int,
) -> None:
    import httpx

    from outage_notify.auth.apikeys import create_key

    runtime = Runtime.build(make_settings())
    _load(runtime, [customer(0, 0)])
    with runtime.transaction() as session:
        key = create_key(session, role="operator", name="race", now=NOW)[1]
    _both_find_nothing_first(monkeypatch)
    server = LiveServer(runtime, live_port).start()
    body = {"external_id": "RACE-1", "area": cells(0, 0, 1, 1)}
    answers: list[httpx.Response] = []

    def post() -> None:
        answers.append(
            httpx.post(
                f"{server.url}/api/v1/incidents",
                json=body,
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            )
        )

    threads = [threading.Thread(target=post) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(a.status_code for a in answers) == [200, 201], [a.text for a in answers]
        assert answers[0].json()["id"] == answers[1].json()["id"]
        with runtime.reading() as session:
            assert len(session.scalars(select(Incident)).all()) == 1
    finally:
        server.stop()
        runtime.close()


def test_a_message_superseded_while_being_marked_in_flight_is_sent_or_suppressed_never_both(
    make_settings: Callable[..., Settings],
) -> None:
    runtime = Runtime.build(make_settings(), clock=ManualClock(NOW))
    try:
        _load(runtime, [customer(0, 0, channels="sms")])
        made = upsert_incident(
            runtime,
            {
                "external_id": "S-1",
                "area": cells(0, 0, 1, 1),
                "etr": (NOW + timedelta(hours=2)).isoformat(),
            },
            now=NOW,
        )
        patch_incident(
            runtime, made.incident.id, {"etr": (NOW + timedelta(hours=4)).isoformat()}, now=NOW
        )
        with runtime.reading() as session:
            first_update = session.scalar(
                select(Notification.id).where(
                    Notification.kind == "etr_update", Notification.channel == "sms"
                )
            )
        # A worker marks the queued etr_update in flight and, before it commits, the ETR
        # moves again and planning tries to supersede it.
        worker = runtime.sessions()
        worker.begin()
        worker.execute(
            update(OutboxItem)
            .where(OutboxItem.notification_id == first_update)
            .values(
                lease_owner="w", lease_expires_at=NOW + timedelta(minutes=1), in_flight_since=NOW
            )
        )
        later = threading.Thread(
            target=patch_incident,
            args=(runtime, made.incident.id, {"etr": (NOW + timedelta(hours=6)).isoformat()}),
            kwargs={"now": NOW},
        )
        later.start()
        time.sleep(1.0)  # planning is now waiting for the worker's row
        worker.commit()
        worker.close()
        later.join(30)
        with runtime.reading() as session:
            fate = session.scalar(
                select(Notification.status).where(Notification.id == first_update)
            )
            statuses = set(
                session.scalars(
                    select(TimelineEvent.status).where(
                        TimelineEvent.notification_id == first_update
                    )
                )
            )
        assert fate == "queued"  # in flight: the worker decides its fate, not planning
        assert "suppressed" not in statuses
    finally:
        runtime.close()


def test_an_operator_change_never_deadlocks_with_the_planner_tying_customers(
    make_settings: Callable[..., Settings],
) -> None:
    """The change locks the incident and then its planning job; the planner holds the job and
    ties customers to the incident, whose foreign key check takes a key-share lock on it. A
    lock on the incident that conflicts with key-share made the two wait on each other
    (PostgreSQL: deadlock detected, the operator saw a 500)."""
    runtime = Runtime.build(make_settings(), clock=ManualClock(NOW))
    try:
        _load(runtime, [customer(0, 0), customer(5, 5)])
        made = upsert_incident(runtime, {"external_id": "D-1", "area": cells(0, 0, 1, 1)}, now=NOW)
        operator = runtime.sessions()
        operator.begin()
        found = incidents._find(operator, source=made.incident.source, external_id="D-1")
        assert found is not None
        planner = runtime.sessions()
        planner.begin()
        planner.execute(text("SET LOCAL lock_timeout = '3s'"))
        planner.get(PlanningJob, found.id, with_for_update=True)
        planner.add(
            IncidentCustomer(
                incident_id=found.id, customer_pk=_pk_of(planner, "C-5-5"), affected=True, since=NOW
            )
        )
        planner.flush()  # must not wait for the operator's lock on the incident
        planner.rollback()
        operator.rollback()
        planner.close()
        operator.close()
    finally:
        runtime.close()


def _pk_of(session: Any, customer_id: str) -> int:
    return int(session.scalar(select(Customer.id).where(Customer.customer_id == customer_id)))
