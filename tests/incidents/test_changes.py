"""detect(previous, new): the changes one incident revision means."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outage_notify.incidents.changes import Change, detect
from outage_notify.incidents.model import IncidentKind, IncidentValue, Status

ETR = datetime(2026, 11, 25, 21, 30, tzinfo=UTC)
AREA = {
    "type": "Polygon",
    "coordinates": [[[24.9, 60.1], [25.0, 60.1], [25.0, 60.2], [24.9, 60.2], [24.9, 60.1]]],
}
BIGGER = {
    "type": "Polygon",
    "coordinates": [[[24.8, 60.0], [25.1, 60.0], [25.1, 60.3], [24.8, 60.3], [24.8, 60.0]]],
}


def state(**changes: Any) -> IncidentValue:
    base = IncidentValue(
        external_id="OMS-1",
        kind="unplanned",
        status="detected",
        cause="fallen tree",
        message=None,
        etr=ETR,
        starts_at=None,
        ends_at=None,
        area=AREA,
        feeders=("F-102",),
        transformers=(),
    )
    return replace(base, **changes)


BEFORE = state()


# ---- new -----------------------------------------------------------------------------------------


def test_first_sight_is_new() -> None:
    assert detect(None, BEFORE) == [Change.NEW]


def test_first_sight_ignores_counts() -> None:
    assert detect(None, BEFORE, gained=10, lost=3) == [Change.NEW]


@pytest.mark.parametrize(
    ("status", "expected"),
    [("restored", [Change.NEW, Change.RESTORED]), ("cancelled", [Change.NEW, Change.CANCELLED])],
)
def test_first_sight_of_a_finished_incident(status: str, expected: list[Change]) -> None:
    assert detect(None, state(status=status)) == expected


# ---- nothing changed ---------------------------------------------------------------------------


def test_nothing_changed_is_an_empty_list() -> None:
    assert detect(BEFORE, state()) == []
    assert detect(BEFORE, BEFORE, gained=0, lost=0) == []


def test_equal_but_not_identical_values_are_no_change() -> None:
    same = state(
        etr=ETR.astimezone(timezone(timedelta(hours=2))),  # the same instant, Helsinki offset
        area={"type": "Polygon", "coordinates": [list(map(list, AREA["coordinates"][0]))]},
        feeders=("F-102",),
    )
    assert detect(BEFORE, same) == []


def test_planned_nothing_changed() -> None:
    window = {"starts_at": ETR, "ends_at": ETR + timedelta(hours=4)}
    assert detect(state(kind="planned", **window), state(kind="planned", **window)) == []


# ---- single changes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"etr": ETR + timedelta(hours=1)}, [Change.ETR_CHANGED]),
        ({"etr": ETR - timedelta(minutes=1)}, [Change.ETR_CHANGED]),
        ({"etr": None}, [Change.ETR_CHANGED]),
        ({"status": "crew_assigned"}, [Change.STATUS_CHANGED]),
        ({"status": "in_progress"}, [Change.STATUS_CHANGED]),
        ({"starts_at": ETR}, [Change.SCHEDULE_CHANGED]),
        ({"ends_at": ETR}, [Change.SCHEDULE_CHANGED]),
        ({"cause": "storm damage"}, [Change.DETAILS_CHANGED]),
        ({"cause": None}, [Change.DETAILS_CHANGED]),
        ({"message": "Keep away."}, [Change.DETAILS_CHANGED]),
        ({"area": BIGGER}, [Change.AREA_CHANGED]),
        ({"area": None}, [Change.AREA_CHANGED]),
        ({"feeders": ("F-102", "F-103")}, [Change.AREA_CHANGED]),
        ({"feeders": ()}, [Change.AREA_CHANGED]),
        ({"transformers": ("T-1",)}, [Change.AREA_CHANGED]),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else None,
)
def test_single_change(changes: dict[str, Any], expected: list[Change]) -> None:
    assert detect(BEFORE, state(**changes)) == expected


def test_first_etr_is_an_etr_change() -> None:
    assert detect(state(etr=None), state()) == [Change.ETR_CHANGED]


def test_message_by_language_change_is_a_details_change() -> None:
    before = state(message=(("en", "Keep away."),))
    after = state(message=(("en", "Keep away."), ("fi", "Pysy kaukana.")))
    assert detect(before, after) == [Change.DETAILS_CHANGED]
    assert detect(after, after) == []


def test_planned_window_moved() -> None:
    before = state(kind="planned", starts_at=ETR, ends_at=ETR + timedelta(hours=4))
    after = replace(
        before, starts_at=ETR + timedelta(days=1), ends_at=ETR + timedelta(days=1, hours=4)
    )
    assert detect(before, after) == [Change.SCHEDULE_CHANGED]


# ---- terminal ----------------------------------------------------------------------------------


def test_restored() -> None:
    assert detect(BEFORE, state(status="restored")) == [Change.STATUS_CHANGED, Change.RESTORED]


def test_cancelled() -> None:
    assert detect(BEFORE, state(status="cancelled")) == [Change.STATUS_CHANGED, Change.CANCELLED]


def test_restored_with_the_etr_cleared() -> None:
    changes = detect(BEFORE, state(status="restored", etr=None))
    assert changes == [Change.ETR_CHANGED, Change.STATUS_CHANGED, Change.RESTORED]


def test_restored_again_is_nothing() -> None:
    restored = state(status="restored")
    assert detect(restored, restored) == []


def test_restored_then_cancelled() -> None:
    assert detect(state(status="restored"), state(status="cancelled")) == [
        Change.STATUS_CHANGED,
        Change.CANCELLED,
    ]


def test_a_finished_incident_that_leaves_everyone_is_not_a_shrink() -> None:
    # On restoration nobody is affected any more: that is RESTORED, not AREA_SHRANK.
    changes = detect(BEFORE, state(status="restored"), lost=120)
    assert Change.RESTORED in changes
    assert Change.AREA_SHRANK not in changes
    changes = detect(BEFORE, state(status="cancelled"), lost=120)
    assert Change.CANCELLED in changes and Change.AREA_SHRANK not in changes


def test_an_incident_is_over_once_restored_cancelled_or_expired_and_only_then() -> None:
    assert {s for s in Status if state(status=s).terminal} == {"restored", "cancelled", "expired"}


# ---- area with gained / lost customers -----------------------------------------------------------


def test_area_grew() -> None:
    changes = detect(BEFORE, state(area=BIGGER), gained=40)
    assert changes == [Change.AREA_CHANGED, Change.AREA_GREW]


def test_area_shrank() -> None:
    changes = detect(state(area=BIGGER), BEFORE, lost=40)
    assert changes == [Change.AREA_CHANGED, Change.AREA_SHRANK]


def test_area_moved_gains_some_and_loses_others() -> None:
    moved = state(area=BIGGER, feeders=())
    changes = detect(BEFORE, moved, gained=5, lost=7)
    assert changes == [Change.AREA_CHANGED, Change.AREA_GREW, Change.AREA_SHRANK]


def test_area_changed_without_anyone_gained_or_lost() -> None:
    assert detect(BEFORE, state(area=BIGGER), gained=0, lost=0) == [Change.AREA_CHANGED]


def test_same_extent_with_new_customers_in_it_grows() -> None:
    # Customers imported inside an unchanged area are newly affected.
    assert detect(BEFORE, state(), gained=3) == [Change.AREA_GREW]
    assert detect(BEFORE, state(), lost=2) == [Change.AREA_SHRANK]


def test_everything_at_once_in_order() -> None:
    after = state(
        etr=ETR + timedelta(hours=2),
        status="in_progress",
        starts_at=ETR,
        cause="storm damage",
        area=BIGGER,
    )
    assert detect(BEFORE, after, gained=1, lost=1) == [
        Change.ETR_CHANGED,
        Change.STATUS_CHANGED,
        Change.SCHEDULE_CHANGED,
        Change.DETAILS_CHANGED,
        Change.AREA_CHANGED,
        Change.AREA_GREW,
        Change.AREA_SHRANK,
    ]


# ---- properties ----------------------------------------------------------------------------------

times = st.one_of(
    st.none(), st.sampled_from([ETR, ETR + timedelta(minutes=30), ETR + timedelta(days=1)])
)
states = st.builds(
    IncidentValue,
    external_id=st.just("OMS-1"),
    kind=st.sampled_from(list(IncidentKind)),
    status=st.sampled_from(list(Status)),
    cause=st.sampled_from([None, "fallen tree", "storm damage"]),
    message=st.sampled_from([None, "Keep away.", (("fi", "Pysy kaukana."),)]),
    etr=times,
    starts_at=times,
    ends_at=times,
    area=st.sampled_from([None, AREA, BIGGER]),
    feeders=st.frozensets(st.sampled_from(["F1", "F2"])).map(lambda ids: tuple(sorted(ids))),
    transformers=st.frozensets(st.sampled_from(["T1", "T2"])).map(lambda ids: tuple(sorted(ids))),
)
FAST = settings(max_examples=300, deadline=None, database=None)


@FAST
@given(current=states, gained=st.integers(0, 5), lost=st.integers(0, 5))
def test_a_state_compared_with_itself_changes_only_by_its_counts(
    current: IncidentValue, gained: int, lost: int
) -> None:
    changes = detect(current, current, gained=gained, lost=lost)
    expected = []
    if gained:
        expected.append(Change.AREA_GREW)
    if lost and not current.terminal:
        expected.append(Change.AREA_SHRANK)
    assert changes == expected


@FAST
@given(previous=states, new=states, gained=st.integers(0, 3), lost=st.integers(0, 3))
def test_each_change_is_reported_iff_its_fields_differ(
    previous: IncidentValue, new: IncidentValue, gained: int, lost: int
) -> None:
    changes = detect(previous, new, gained=gained, lost=lost)
    assert len(changes) == len(set(changes))
    assert (Change.ETR_CHANGED in changes) == (previous.etr != new.etr)
    assert (Change.STATUS_CHANGED in changes) == (previous.status != new.status)
    assert (Change.SCHEDULE_CHANGED in changes) == (
        (previous.starts_at, previous.ends_at) != (new.starts_at, new.ends_at)
    )
    assert (Change.DETAILS_CHANGED in changes) == (
        (previous.cause, previous.message) != (new.cause, new.message)
    )
    assert (Change.AREA_CHANGED in changes) == (
        (previous.area, previous.feeders, previous.transformers)
        != (new.area, new.feeders, new.transformers)
    )
    assert (Change.AREA_GREW in changes) == (gained > 0)
    assert (Change.AREA_SHRANK in changes) == (lost > 0 and not new.terminal)
    status_moved = previous.status != new.status
    assert (Change.RESTORED in changes) == (status_moved and new.status == "restored")
    assert (Change.CANCELLED in changes) == (status_moved and new.status == "cancelled")
    assert Change.NEW not in changes


@FAST
@given(new=states)
def test_new_is_first_and_only_with_its_terminal_status(new: IncidentValue) -> None:
    changes = detect(None, new)
    assert changes[0] is Change.NEW
    assert changes[1:] == (
        [Change.RESTORED]
        if new.status == "restored"
        else [Change.CANCELLED]
        if new.status == "cancelled"
        else [Change.EXPIRED]
        if new.status == "expired"
        else []
    )
