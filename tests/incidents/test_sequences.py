"""Whatever sequence of changes an operator sends, what each customer receives on each channel
makes sense: an outage, perhaps estimate updates, then the restoration, and again if caught
again; never the same message twice; everyone still affected has been told; a restored
incident leaves nobody who was told without the restoration."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from outage_notify.clock import ManualClock
from outage_notify.config import Settings
from outage_notify.customers.service import upsert_customers
from outage_notify.db.models import IncidentCustomer, Notification
from outage_notify.ingest.customers import CustomerRules, parse_json_list
from outage_notify.runtime import Runtime
from tests.backends import Databases
from tests.conftest import TEST_SECRET
from tests.engine import upsert_incident
from tests.town import COLS, ROWS, cells, town

START = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
EPISODE = re.compile(r"^(O E* R)* (O E*)?$".replace(" ", ""))
LETTER = {"outage": "O", "etr_update": "E", "etr_missed": "E", "restored": "R", "cancelled": "R"}

rectangles = st.builds(
    lambda c0, r0, w, h: (c0, r0, min(c0 + w, COLS - 1), min(r0 + h, ROWS - 1)),
    st.integers(0, COLS - 2),
    st.integers(0, ROWS - 2),
    st.integers(1, 4),
    st.integers(1, 3),
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("area"), rectangles),
        st.tuples(st.just("etr"), st.integers(1, 600)),  # minutes ahead: a past ETR is refused
        st.tuples(st.just("status"), st.sampled_from(["detected", "crew_assigned", "in_progress"])),
        st.tuples(st.just("feeders"), st.lists(st.integers(0, COLS - 1), max_size=2)),
        st.tuples(st.just("repost"), st.none()),
    ),
    min_size=1,
    max_size=8,
)


def fresh_runtime(url: str) -> Runtime:
    return Runtime.build(
        Settings(database_url=url, dispatcher_enabled=False, secret_key=TEST_SECRET),
        clock=ManualClock(START),
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(first=rectangles, steps=operations, restore=st.booleans())
def test_any_sequence_of_changes_gives_each_customer_a_sensible_story(
    databases: Databases, first: tuple, steps: list, restore: bool
) -> None:
    url = databases.new()  # one per example
    runtime = fresh_runtime(url)
    try:
        _load(runtime)
        body: dict[str, Any] = {"external_id": "SEQ-1", "area": cells(*first), "feeders": []}
        now = START
        _post(runtime, body, now)
        for op, value in steps:
            now += timedelta(minutes=7)
            body = _apply(body, op, value, now)
            _post(runtime, body, now)
        if restore:
            _post(runtime, {**body, "status": "restored"}, now + timedelta(minutes=7))
        _check(runtime, restored=restore)
    finally:
        runtime.close()
        databases.drop(url)


def _load(runtime: Runtime) -> None:
    parsed = parse_json_list(town(channels="sms;email"), CustomerRules())
    with runtime.transaction() as session:
        upsert_customers(session, records=[r for _, r in parsed.records], now=START)


def _apply(body: dict[str, Any], op: str, value: Any, now: datetime) -> dict[str, Any]:
    if op == "area":
        return {**body, "area": cells(*value)}
    if op == "etr":
        return {**body, "etr": (now + timedelta(minutes=value)).isoformat()}
    if op == "status":
        return {**body, "status": value}
    if op == "feeders":
        return {**body, "feeders": [f"F-{c}" for c in value]}
    return body


def _post(runtime: Runtime, body: dict[str, Any], now: datetime) -> None:
    upsert_incident(runtime, body, now=now)


def _check(runtime: Runtime, *, restored: bool) -> None:
    with runtime.transaction() as session:
        rows = session.execute(
            select(Notification.customer_pk, Notification.channel, Notification.kind)
            .where(Notification.status != "suppressed")
            .order_by(Notification.id)
        ).all()
        affected = set(
            session.scalars(
                select(IncidentCustomer.customer_pk).where(IncidentCustomer.affected.is_(True))
            )
        )
    stories: dict[tuple[int, str], str] = defaultdict(str)
    for pk, channel, kind in rows:
        stories[(pk, channel)] += LETTER[kind]
    for (pk, channel), story in stories.items():
        assert EPISODE.match(story), (pk, channel, story)
        if restored:
            assert story.endswith("R"), (pk, channel, story)
    for pk in affected:
        for channel in ("sms", "email", "in_app"):
            story = stories.get((pk, channel), "")
            assert story and story[-1] in "OE", (pk, channel, story)
