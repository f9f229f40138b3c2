"""The incident service on a real (migrated) database: state kept per customer, planning in
the same transaction, the dedup key refusing duplicates."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from outage_notify.clock import ManualClock
from outage_notify.config import Settings
from outage_notify.customers.service import upsert_customers
from outage_notify.db.models import Notification, OutboxItem
from outage_notify.incidents.service import IncidentError
from outage_notify.ingest.customers import CustomerRules, parse_json_list
from outage_notify.planning.service import write_notifications
from outage_notify.runtime import Runtime
from tests.engine import patch_incident, upsert_incident
from tests.town import box, cells, customer, town

NIGHT = datetime(2026, 11, 25, 21, 30, tzinfo=UTC)  # 23:30 in Helsinki


def load(runtime: Runtime, people: list[dict[str, Any]]) -> None:
    parsed = parse_json_list(people, CustomerRules())
    assert not parsed.rejections
    with runtime.transaction() as session:
        upsert_customers(session, records=[r for _, r in parsed.records], now=NIGHT)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime.build(settings, clock=ManualClock(NIGHT))
    yield rt
    rt.close()


def upsert(runtime: Runtime, now: datetime = NIGHT, **body: Any) -> Any:
    return upsert_incident(runtime, body, now=now)


def patch(runtime: Runtime, incident_id: str, now: datetime = NIGHT, **fields: Any) -> Any:
    return patch_incident(runtime, incident_id, fields, now=now)


def sent(runtime: Runtime, channel: str = "sms") -> Counter[tuple[str, str]]:
    with runtime.transaction() as session:
        rows = session.execute(
            select(Notification.to_address, Notification.kind).where(
                Notification.channel == channel
            )
        )
        return Counter((to or "", kind) for to, kind in rows)


def test_quiet_hours_hold_a_planned_notice_until_morning(runtime: Runtime) -> None:
    quiet = customer(0, 0, channels="sms", quiet_hours="22:00-07:00")
    awake = customer(1, 0, channels="sms")
    load(runtime, [quiet, awake])
    upsert(
        runtime,
        external_id="PW-1",
        kind="planned",
        area=cells(0, 0, 1, 1),
        # Within PLANNED_NOTICE_HOURS: announced at once, but not in anyone's quiet hours.
        starts_at="2026-11-27T09:00:00+02:00",
        ends_at="2026-11-27T13:00:00+02:00",
    )
    with runtime.transaction() as session:
        rows = session.execute(
            select(Notification.to_address, OutboxItem.available_at)
            .join(OutboxItem, OutboxItem.notification_id == Notification.id)
            .where(Notification.channel == "sms")
        ).all()
    release = dict(rows)
    assert release[quiet["phone"]] == datetime(2026, 11, 26, 7, 0, tzinfo=UTC) + timedelta(hours=-2)
    assert release[awake["phone"]] == NIGHT


def test_planned_work_is_announced_its_notice_hours_ahead_and_earlier_to_priority_customers(
    runtime: Runtime,
) -> None:
    ordinary = customer(0, 0, channels="sms")
    life_support = customer(1, 0, channels="sms", priority="life_support")
    load(runtime, [ordinary, life_support])
    upsert(
        runtime,
        external_id="PW-9",
        kind="planned",
        area=cells(0, 0, 1, 1),
        starts_at="2026-12-05T09:00:00+02:00",  # ten days ahead
        ends_at="2026-12-05T13:00:00+02:00",
    )
    with runtime.transaction() as session:
        rows = session.execute(
            select(Notification.to_address, OutboxItem.available_at, OutboxItem.priority)
            .join(OutboxItem, OutboxItem.notification_id == Notification.id)
            .where(Notification.channel == "sms")
        ).all()
    held = {to: (at, priority) for to, at, priority in rows}
    start = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)
    assert held[ordinary["phone"]] == (start - timedelta(hours=48), 0)
    assert held[life_support["phone"]] == (start - timedelta(hours=96), 5)


PLANNED = {
    "kind": "planned",
    "area": cells(0, 0, 1, 1),
    "starts_at": "2026-11-28T09:00:00+02:00",
    "ends_at": "2026-11-28T13:00:00+02:00",
}


def sms_statuses(runtime: Runtime) -> dict[str, str]:
    with runtime.transaction() as session:
        rows = session.execute(
            select(Notification.kind, Notification.status).where(Notification.channel == "sms")
        ).all()
    return dict(rows)


def test_cancelling_planned_work_withdraws_it_and_stops_what_is_still_queued(
    runtime: Runtime,
) -> None:
    person = customer(0, 0, channels="sms")
    load(runtime, [person])
    made = upsert(runtime, external_id="PW-2", **PLANNED)
    with runtime.transaction() as session:  # the notice went out
        session.execute(update(Notification).values(status="sent"))
        session.execute(delete(OutboxItem))
    patch(runtime, made.incident.id, starts_at="2026-11-28T11:00:00+02:00")
    patch(runtime, made.incident.id, status="cancelled")
    assert sent(runtime, "sms")[(person["phone"], "planned_cancelled")] == 1
    assert sent(runtime, "in_app")[("", "planned_cancelled")] == 1
    assert sms_statuses(runtime) == {
        "planned_notice": "sent",
        "planned_changed": "suppressed",
        "planned_cancelled": "queued",
    }


def test_a_moved_window_is_told_and_work_done_early_says_so(runtime: Runtime) -> None:
    """The notice, then `planned_changed` naming the new window, then, the work finished
    two hours early (restored before ends_at), `planned_done` at once."""
    person = customer(0, 0, channels="sms", language="en")
    load(runtime, [person])
    made = upsert(runtime, external_id="PW-4", **PLANNED)
    patch(
        runtime,
        made.incident.id,
        starts_at="2026-11-28T10:00:00+02:00",
        ends_at="2026-11-28T15:00:00+02:00",
    )
    during = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)  # 13:00 local: begun, 2 h before its end
    patch(runtime, made.incident.id, now=during, status="restored")
    assert sent(runtime) == Counter(
        {
            (person["phone"], "planned_notice"): 1,
            (person["phone"], "planned_changed"): 1,
            (person["phone"], "planned_done"): 1,
        }
    )
    with runtime.reading() as session:
        changed = session.scalar(
            select(Notification.body).where(
                Notification.kind == "planned_changed", Notification.channel == "sms"
            )
        )
    assert changed is not None and "10:00" in changed and "15:00" in changed, changed


def test_a_cancellation_is_not_sent_where_nothing_was_ever_sent(runtime: Runtime) -> None:
    load(runtime, [customer(0, 0, channels="sms", quiet_hours="22:00-07:00")])
    made = upsert(runtime, external_id="PW-3", **PLANNED)  # held for quiet hours
    patch(runtime, made.incident.id, status="cancelled")
    assert sms_statuses(runtime) == {
        "planned_notice": "suppressed",
        "planned_cancelled": "suppressed",
    }


def test_a_newer_etr_supersedes_one_still_queued(runtime: Runtime) -> None:
    load(runtime, [customer(0, 0, channels="sms")])
    made = upsert(
        runtime, external_id="E-1", area=cells(0, 0, 1, 1), etr="2026-11-26T01:00:00+02:00"
    )
    patch(runtime, made.incident.id, etr="2026-11-26T02:00:00+02:00")
    patch(runtime, made.incident.id, etr="2026-11-26T03:00:00+02:00")
    with runtime.transaction() as session:
        updates = session.execute(
            select(Notification.status, Notification.reason)
            .where(Notification.kind == "etr_update", Notification.channel == "sms")
            .order_by(Notification.id)
        ).all()
    assert [u.status for u in updates] == ["suppressed", "queued"]
    assert updates[0].reason == "superseded by a newer message"


def test_a_customer_released_and_caught_again_starts_a_new_episode(runtime: Runtime) -> None:
    person = customer(0, 0, channels="sms")
    load(runtime, [person, customer(5, 0, channels="sms")])
    made = upsert(runtime, external_id="EP-1", area=cells(0, 0, 5, 1))
    patch(runtime, made.incident.id, area=cells(4, 0, 5, 1))
    patch(runtime, made.incident.id, area=cells(0, 0, 5, 1))
    assert sent(runtime)[(person["phone"], "outage")] == 2
    assert sent(runtime)[(person["phone"], "restored")] == 1


def test_the_database_refuses_a_second_copy_of_a_message(runtime: Runtime) -> None:
    load(runtime, [customer(0, 0, channels="sms")])
    upsert(runtime, external_id="D-1", area=cells(0, 0, 1, 1))
    with runtime.transaction() as session:
        original = session.scalars(select(Notification).where(Notification.channel == "sms")).one()
        row = {
            c.name: getattr(original, c.name)
            for c in Notification.__table__.columns
            if c.name != "id"
        }
        assert write_notifications(session, [row], now=NIGHT) == []
        count = len(session.scalars(select(Notification)).all())
    assert count == 2  # sms + in_app, still


def test_kind_cannot_change(runtime: Runtime) -> None:
    load(runtime, town())
    upsert(runtime, external_id="K-1", area=cells(0, 0, 1, 1))
    with pytest.raises(IncidentError, match="kind cannot change"):
        upsert(
            runtime,
            external_id="K-1",
            kind="planned",
            area=cells(0, 0, 1, 1),
            starts_at="2026-11-28T09:00:00+02:00",
            ends_at="2026-11-28T13:00:00+02:00",
        )


def test_a_configured_territory_catches_areas_even_with_no_customers(
    make_settings: Any,
) -> None:
    territory = "19.0,59.5,31.6,70.1"  # Finland
    runtime = Runtime.build(make_settings(territory=territory), clock=ManualClock(NIGHT))
    with pytest.raises(IncidentError, match="outside the service territory"):
        upsert(runtime, external_id="T-1", area=box(60.15, 24.9, 60.2, 25.0))  # lat/lon swapped
    assert upsert(runtime, external_id="T-2", area=cells(0, 0, 1, 1)).incident.affected_count == 0
    runtime.close()
