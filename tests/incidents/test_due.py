"""The due-rules sweep with the clock moved by hand: missed ETRs, reassurance, planned-work
reminders and ends (CONTRACT.md rule 10). Each rule fires once per customer and episode, and a
sweep run again changes nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from outage_notify.clock import ManualClock
from outage_notify.config import Settings
from outage_notify.customers.service import upsert_customers
from outage_notify.db.models import Customer, IncidentRevision, Notification, TimelineEvent
from outage_notify.ingest.customers import CustomerRules, parse_json_list
from outage_notify.runtime import Runtime
from tests.engine import patch_incident, run_sweep, upsert_incident
from tests.town import cells, ids, town

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # 10:00 in Helsinki
AREA = cells(0, 0, 1, 1)
PEOPLE = ids(0, 0, 1, 1)


@pytest.fixture
def runtime(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    rt = Runtime.build(make_settings(etr_grace_minutes=15, reassure_hours=2), clock=ManualClock(T0))
    parsed = parse_json_list(town(channels="sms"), CustomerRules())
    with rt.transaction() as session:
        upsert_customers(session, records=[r for _, r in parsed.records], now=T0)
    yield rt
    rt.close()


def kinds(runtime: Runtime) -> Counter[str]:
    """How many SMS of each kind were written."""
    with runtime.reading() as session:
        rows = session.scalars(select(Notification.kind).where(Notification.channel == "sms"))
        return Counter(rows)


def sms_of(runtime: Runtime, kind: str) -> set[str]:
    with runtime.reading() as session:
        rows = session.scalars(
            select(Customer.customer_id)
            .join(Notification, Notification.customer_pk == Customer.id)
            .where(Notification.channel == "sms", Notification.kind == kind)
        )
        return set(rows)


def sms_texts(runtime: Runtime, kind: str) -> list[str]:
    with runtime.reading() as session:
        rows = session.scalars(
            select(Notification.body).where(
                Notification.channel == "sms", Notification.kind == kind
            )
        )
        return list(rows)


def sweep(runtime: Runtime, now: datetime) -> dict[str, Any]:
    return run_sweep(runtime, "due-rules", now=now)


def outage(runtime: Runtime, **body: Any) -> Any:
    return upsert_incident(runtime, {"external_id": "O-1", "area": AREA, **body}, now=T0).incident


# ---- ETR missed --------------------------------------------------------------------------------


def test_a_passed_etr_sends_one_etr_missed_after_the_grace(runtime: Runtime) -> None:
    etr = T0 + timedelta(hours=1)
    outage(runtime, etr=etr.isoformat())
    assert sweep(runtime, etr + timedelta(minutes=14))["etr_missed"] == 0
    assert sweep(runtime, etr + timedelta(minutes=15))["etr_missed"] == 1
    assert sms_of(runtime, "etr_missed") == PEOPLE
    assert sweep(runtime, etr + timedelta(minutes=16))["etr_missed"] == 0
    assert sweep(runtime, etr + timedelta(hours=1))["etr_missed"] == 0
    assert kinds(runtime) == Counter({"outage": 4, "etr_missed": 4})
    with runtime.reading() as session:
        actors = session.scalars(select(IncidentRevision.actor).order_by(IncidentRevision.id))
        assert list(actors) == ["apikey:test", "rule:etr-missed"]


def test_after_a_missed_etr_the_next_estimate_is_news(runtime: Runtime) -> None:
    etr = T0 + timedelta(hours=1)
    made = outage(runtime, etr=etr.isoformat())
    sweep(runtime, etr + timedelta(minutes=20))
    later = etr + timedelta(minutes=40)
    patch_incident(runtime, made.id, {"etr": (later + timedelta(hours=1)).isoformat()}, now=later)
    assert kinds(runtime) == Counter({"outage": 4, "etr_missed": 4, "etr_update": 4})


def test_a_new_estimate_before_the_grace_ends_sends_no_etr_missed(runtime: Runtime) -> None:
    etr = T0 + timedelta(hours=1)
    made = outage(runtime, etr=etr.isoformat())
    moment = etr + timedelta(minutes=5)
    patch_incident(runtime, made.id, {"etr": (etr + timedelta(hours=2)).isoformat()}, now=moment)
    assert sweep(runtime, etr + timedelta(minutes=30))["etr_missed"] == 0
    assert kinds(runtime) == Counter({"outage": 4, "etr_update": 4})


def test_a_passed_etr_with_a_small_new_one_ahead_is_missed_with_the_new_one(
    runtime: Runtime,
) -> None:
    """Moved by less than ETR_CHANGE_MINUTES, the new estimate sends nothing at once; once
    the old one has passed, the customer must not be left with it: one `etr_missed` names
    the new one, which is then what they hold (no second message for it)."""
    etr = T0 + timedelta(hours=1)
    made = outage(runtime, etr=etr.isoformat())
    new_etr = etr + timedelta(minutes=25)
    patch_incident(runtime, made.id, {"etr": new_etr.isoformat()}, now=T0)
    assert kinds(runtime) == Counter({"outage": 4})
    assert sweep(runtime, etr + timedelta(minutes=16))["etr_missed"] == 1
    assert kinds(runtime) == Counter({"outage": 4, "etr_missed": 4})
    local = new_etr.astimezone(runtime.settings.zone)
    named = {f"{local:%H:%M}", f"{local:%H.%M}"}  # Finnish writes 11.25
    for text in sms_texts(runtime, "etr_missed"):
        assert any(time in text for time in named), text
    # They hold the new estimate now: nothing more until it, too, has passed by the grace.
    assert sweep(runtime, new_etr + timedelta(minutes=14))["etr_missed"] == 0
    assert kinds(runtime) == Counter({"outage": 4, "etr_missed": 4})


def test_restored_supersedes_a_queued_etr_missed(runtime: Runtime) -> None:
    etr = T0 + timedelta(hours=1)
    made = outage(runtime, etr=etr.isoformat())
    sweep(runtime, etr + timedelta(minutes=15))
    patch_incident(runtime, made.id, {"status": "restored"}, now=etr + timedelta(minutes=16))
    with runtime.reading() as session:
        missed = session.scalars(
            select(Notification.status).where(
                Notification.kind == "etr_missed", Notification.channel == "sms"
            )
        ).all()
    assert set(missed) == {"suppressed"}
    assert sms_of(runtime, "restored") == PEOPLE


# ---- reassurance -----------------------------------------------------------------------------


def test_silence_brings_a_reassurance_then_another_after_each_period(runtime: Runtime) -> None:
    outage(runtime)  # no ETR: nothing else will be said for a while
    assert sweep(runtime, T0 + timedelta(hours=1, minutes=59))["reassured"] == 0
    assert sweep(runtime, T0 + timedelta(hours=2))["reassured"] == 1
    assert sweep(runtime, T0 + timedelta(hours=3))["reassured"] == 0
    assert sweep(runtime, T0 + timedelta(hours=4))["reassured"] == 1
    assert kinds(runtime) == Counter({"outage": 4, "reassurance": 8})


def test_news_resets_the_silence(runtime: Runtime) -> None:
    made = outage(runtime)
    moment = T0 + timedelta(hours=1, minutes=30)
    patch_incident(runtime, made.id, {"etr": (moment + timedelta(hours=3)).isoformat()}, now=moment)
    assert sweep(runtime, T0 + timedelta(hours=2, minutes=30))["reassured"] == 0
    assert sweep(runtime, moment + timedelta(hours=2))["reassured"] == 1


def test_a_closed_outage_is_never_reassured(runtime: Runtime) -> None:
    made = outage(runtime)
    patch_incident(runtime, made.id, {"status": "restored"}, now=T0 + timedelta(minutes=30))
    assert sweep(runtime, T0 + timedelta(hours=5))["reassured"] == 0
    assert kinds(runtime) == Counter({"outage": 4, "restored": 4})


# ---- planned work ----------------------------------------------------------------------------


def planned(runtime: Runtime, *, now: datetime, starts: str, ends: str) -> Any:
    body = {"external_id": "P-1", "kind": "planned", "area": AREA, "starts_at": starts}
    return upsert_incident(runtime, {**body, "ends_at": ends}, now=now).incident


def test_planned_work_is_recalled_the_evening_before_and_closed_at_its_end(
    runtime: Runtime,
) -> None:
    planned(runtime, now=T0, starts="2026-11-26T09:00:00+02:00", ends="2026-11-26T13:00:00+02:00")
    evening = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)  # 18:00 in Helsinki
    assert sweep(runtime, evening - timedelta(minutes=1))["reminded"] == 0
    assert sweep(runtime, evening)["reminded"] == 1
    assert sweep(runtime, evening + timedelta(hours=1))["reminded"] == 0
    assert sms_of(runtime, "planned_reminder") == PEOPLE
    end = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
    assert sweep(runtime, end - timedelta(minutes=1))["planned_ended"] == 0
    assert sweep(runtime, end)["planned_ended"] == 1
    assert kinds(runtime) == Counter(
        {"planned_notice": 4, "planned_reminder": 4, "planned_done": 4}
    )


@pytest.mark.parametrize(
    "late",
    [
        datetime(2026, 11, 25, 18, 0, tzinfo=UTC),  # 20:00 in Helsinki: after the reminder's hour
        datetime(2026, 11, 25, 13, 0, tzinfo=UTC),  # 15:00: three hours before it
    ],
)
def test_planned_work_announced_shortly_before_the_evening_gets_no_reminder(
    runtime: Runtime, late: datetime
) -> None:
    planned(runtime, now=late, starts="2026-11-26T09:00:00+02:00", ends="2026-11-26T13:00:00+02:00")
    assert sweep(runtime, late + timedelta(hours=1))["reminded"] == 0
    assert kinds(runtime) == Counter({"planned_notice": 4})


# ---- standard compensation -------------------------------------------------------------------


def test_the_first_band_sends_one_notice_and_restored_names_the_final_band(
    runtime: Runtime,
) -> None:
    made = outage(runtime, started_at=(T0 - timedelta(hours=11)).isoformat())
    assert sweep(runtime, T0 + timedelta(minutes=59))["compensation"] == 0
    first = sweep(runtime, T0 + timedelta(hours=1))
    assert first["bands_raised"] == 4 and first["compensation"] == 1
    assert sms_of(runtime, "compensation") == PEOPLE
    assert sweep(runtime, T0 + timedelta(hours=1, minutes=1))["compensation"] == 0
    second = sweep(runtime, T0 + timedelta(hours=13))  # 24 h: the next band, no new notice
    assert second["bands_raised"] == 4 and second["compensation"] == 0
    assert kinds(runtime)["compensation"] == 4
    patch_incident(runtime, made.id, {"status": "restored"}, now=T0 + timedelta(hours=14))
    with runtime.reading() as session:
        bodies = session.scalars(
            select(Notification.body).where(
                Notification.kind == "restored", Notification.channel == "sms"
            )
        ).all()
        events = session.execute(
            select(TimelineEvent.data).where(TimelineEvent.type == "compensation")
        ).all()
    assert len(bodies) == 4 and all("25" in body for body in bodies)
    assert sorted(data["percent"] for (data,) in events) == [10] * 4 + [25] * 4
    # How long each had been without power when the band was reached, for the agent.
    durations = {(data["percent"], data["duration_minutes"]) for (data,) in events}
    assert durations == {(10, 12 * 60), (25, 24 * 60)}


def test_an_outage_resuming_within_two_hours_counts_on(runtime: Runtime) -> None:
    first = upsert_incident(
        runtime,
        {"external_id": "A", "area": AREA, "started_at": (T0 - timedelta(hours=8)).isoformat()},
        now=T0 - timedelta(hours=8),
    ).incident
    patch_incident(runtime, first.id, {"status": "restored"}, now=T0)
    upsert_incident(runtime, {"external_id": "B", "area": AREA}, now=T0 + timedelta(hours=1))
    assert sweep(runtime, T0 + timedelta(hours=4, minutes=59))["bands_raised"] == 0
    assert sweep(runtime, T0 + timedelta(hours=5))["bands_raised"] == 4  # 8 h + 4 h
    assert sms_of(runtime, "compensation") == PEOPLE
    with runtime.reading() as session:
        events = session.scalars(
            select(TimelineEvent.data).where(TimelineEvent.type == "compensation")
        ).all()
    # The hour with power between the two outages does not count.
    assert [data["duration_minutes"] for data in events] == [12 * 60] * 4


def test_a_band_reached_by_both_counts_tells_the_whole_duration(runtime: Runtime) -> None:
    """This outage alone reaches 12 h at the very sweep at which the chain (3 h before it,
    an hour's gap) reaches 15 h: one band, and the agent is told 15 h."""
    first = upsert_incident(
        runtime, {"external_id": "A", "area": AREA}, now=T0 - timedelta(hours=16)
    ).incident
    patch_incident(runtime, first.id, {"status": "restored"}, now=T0 - timedelta(hours=13))
    upsert_incident(runtime, {"external_id": "B", "area": AREA}, now=T0 - timedelta(hours=12))
    assert sweep(runtime, T0)["bands_raised"] == 4
    with runtime.reading() as session:
        events = session.scalars(
            select(TimelineEvent.data).where(TimelineEvent.type == "compensation")
        ).all()
    assert [(data["percent"], data["duration_minutes"]) for data in events] == [(10, 15 * 60)] * 4


def test_an_outage_after_more_than_two_hours_starts_counting_again(runtime: Runtime) -> None:
    first = upsert_incident(
        runtime,
        {"external_id": "A", "area": AREA, "started_at": (T0 - timedelta(hours=8)).isoformat()},
        now=T0 - timedelta(hours=8),
    ).incident
    patch_incident(runtime, first.id, {"status": "restored"}, now=T0)
    upsert_incident(runtime, {"external_id": "B", "area": AREA}, now=T0 + timedelta(hours=3))
    assert sweep(runtime, T0 + timedelta(hours=7))["bands_raised"] == 0
    assert sms_of(runtime, "compensation") == set()
