"""The planning decision table (CONTRACT.md rules 1-5) and channel choice, tested directly."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outage_notify.incidents.model import IncidentValue, MessageKind
from outage_notify.planning.rules import (
    ChannelIntent,
    CustomerState,
    Preferences,
    QuietHours,
    channel_plan,
    decide,
    dedup_key,
    deferrable,
)

NOW = datetime(2026, 11, 25, 19, 40, tzinfo=UTC)
ETR = NOW + timedelta(hours=2)
THIRTY = timedelta(minutes=30)
HELSINKI = ZoneInfo("Europe/Helsinki")


def facts(**kw: object) -> IncidentValue:
    values: dict[str, object] = {
        "external_id": "OMS-1",
        "kind": "unplanned",
        "status": "detected",
        "etr": ETR,
    }
    values.update(kw)
    return IncidentValue(**values)  # type: ignore[arg-type]


def told(**kw: object) -> CustomerState:
    values: dict[str, object] = {
        "affected_now": True,
        "affected_before": True,
        "told": True,
        "told_etr": ETR,
    }
    values.update(kw)
    return CustomerState(**values)  # type: ignore[arg-type]


def run(incident: IncidentValue, state: CustomerState) -> MessageKind | None:
    return decide(incident, state, etr_threshold=THIRTY, now=NOW)


# ---- rule 1: newly affected ------------------------------------------------------------------


def test_a_newly_affected_customer_is_told_of_the_outage() -> None:
    assert run(facts(), CustomerState(affected_now=True)) is MessageKind.OUTAGE


def test_nobody_is_told_of_an_unconfirmed_outage_and_a_momentary_cut_closes_silently() -> None:
    unconfirmed = facts(confirmed=False)
    new = told(told=False, affected_before=False, told_etr=None)
    assert decide(unconfirmed, new, etr_threshold=THIRTY, now=NOW) is None
    closed = facts(confirmed=False, status="restored")
    was_tied = told(told=False, affected_now=False, told_etr=None)
    assert decide(closed, was_tied, etr_threshold=THIRTY, now=NOW) is None
    assert decide(facts(), new, etr_threshold=THIRTY, now=NOW) is MessageKind.OUTAGE


@given(confirmed=st.booleans())
def test_confirmation_is_state_not_part_of_what_a_source_says(confirmed: bool) -> None:
    assert facts(confirmed=confirmed) == facts() and hash(facts(confirmed=confirmed)) == hash(
        facts()
    )


def test_newly_affected_by_planned_work_gets_the_planned_notice() -> None:
    planned = facts(kind="planned", etr=None, starts_at=NOW + timedelta(days=2))
    assert run(planned, CustomerState(affected_now=True)) is MessageKind.PLANNED_NOTICE


# ---- rule 2: ETR moves -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moved", "expected"),
    [
        (timedelta(0), None),
        (timedelta(minutes=29), None),
        (timedelta(minutes=-29), None),
        (timedelta(minutes=30), MessageKind.ETR_UPDATE),
        (timedelta(minutes=-30), MessageKind.ETR_UPDATE),
        (timedelta(hours=3), MessageKind.ETR_UPDATE),
    ],
)
def test_the_etr_rule_compares_with_what_the_customer_was_told(
    moved: timedelta, expected: MessageKind | None
) -> None:
    assert run(facts(etr=ETR + moved), told()) is expected


def test_small_moves_add_up_against_what_was_told() -> None:
    # Two 20-minute moves: the second is 40 minutes from what the customer heard.
    assert run(facts(etr=ETR + timedelta(minutes=20)), told()) is None
    assert run(facts(etr=ETR + timedelta(minutes=40)), told()) is MessageKind.ETR_UPDATE


def test_a_first_estimate_after_none_is_news() -> None:
    assert run(facts(etr=ETR), told(told_etr=None)) is MessageKind.ETR_UPDATE


def test_an_estimate_withdrawn_is_not_news() -> None:
    assert run(facts(etr=None), told()) is None


def test_a_status_change_alone_sends_nothing() -> None:
    assert run(facts(status="crew_assigned"), told()) is None
    assert run(facts(status="in_progress"), told()) is None


@given(minutes=st.integers(min_value=-600, max_value=600), threshold=st.integers(0, 240))
def test_etr_update_exactly_when_the_move_reaches_the_threshold(
    minutes: int, threshold: int
) -> None:
    kind = decide(
        facts(etr=ETR + timedelta(minutes=minutes)),
        told(),
        etr_threshold=timedelta(minutes=threshold),
        now=NOW,
    )
    ahead = ETR + timedelta(minutes=minutes) > NOW  # a time already past is never told
    expected = minutes != 0 and abs(minutes) >= threshold and ahead
    assert (kind is MessageKind.ETR_UPDATE) == expected


# ---- rules 3 and 4: restoration, growth, shrinkage -------------------------------------------


def test_restored_tells_everyone_who_was_told() -> None:
    assert run(facts(status="restored"), told(affected_now=False)) is MessageKind.RESTORED


def test_restored_tells_nobody_who_was_never_told() -> None:
    assert (
        run(facts(status="restored"), CustomerState(affected_now=False, affected_before=True))
        is None
    )


def test_customers_left_out_when_the_area_shrinks_hear_their_power_is_back() -> None:
    assert run(facts(), told(affected_now=False)) is MessageKind.RESTORED


def test_customers_outside_who_never_were_inside_hear_nothing() -> None:
    assert run(facts(), CustomerState(affected_now=False)) is None


def test_cancelled_incident_withdraws_the_notice_for_those_told() -> None:
    assert run(facts(status="cancelled"), told(affected_now=False)) is MessageKind.CANCELLED


def test_planned_work_not_yet_begun_that_drops_a_customer_is_cancelled_for_them() -> None:
    planned = facts(kind="planned", etr=None, starts_at=NOW + timedelta(days=1))
    assert run(planned, told(affected_now=False)) is MessageKind.PLANNED_CANCELLED
    started = facts(kind="planned", etr=None, starts_at=NOW - timedelta(hours=1))
    assert run(started, told(affected_now=False)) is MessageKind.PLANNED_DONE


def test_planned_work_cancelled_or_done_has_its_own_kinds() -> None:
    planned = {"kind": "planned", "etr": None, "starts_at": NOW - timedelta(hours=1)}
    cancelled = facts(**planned, status="cancelled")
    done = facts(**planned, status="restored")
    assert run(cancelled, told(affected_now=False)) is MessageKind.PLANNED_CANCELLED
    assert run(done, told(affected_now=False)) is MessageKind.PLANNED_DONE
    assert run(facts(status="restored"), told(affected_now=False)) is MessageKind.RESTORED


def test_planned_work_moved_in_time_is_announced_again() -> None:
    start, end = NOW + timedelta(days=2), NOW + timedelta(days=2, hours=4)
    state = told(told_etr=end, told_starts_at=start)
    moved = facts(kind="planned", etr=None, starts_at=start + timedelta(hours=2), ends_at=end)
    same = facts(kind="planned", etr=None, starts_at=start, ends_at=end)
    assert run(moved, state) is MessageKind.PLANNED_CHANGED
    assert run(same, state) is None


# ---- rule 5: nothing new, nothing sent -------------------------------------------------------


@given(
    status=st.sampled_from(["detected", "crew_assigned", "in_progress"]),
    minutes=st.integers(min_value=-29, max_value=29),
)
def test_a_told_customer_with_nothing_material_changed_gets_nothing(
    status: str, minutes: int
) -> None:
    assert run(facts(status=status, etr=ETR + timedelta(minutes=minutes)), told()) is None


def test_dedup_key_names_incident_customer_kind_version_and_channel() -> None:
    key = dedup_key(incident_id="inc_1", customer_pk=7, kind="outage", version=3, channel="sms")
    assert key == "inc_1:7:outage:3:sms"
    other = dedup_key(incident_id="inc_1", customer_pk=8, kind="outage", version=3, channel="sms")
    assert key != other


# ---- channels --------------------------------------------------------------------------------


def prefs(**kw: object) -> Preferences:
    values: dict[str, object] = {
        "chosen": None,
        "has_phone": True,
        "has_email": True,
        "has_push": False,
    }
    values.update(kw)
    return Preferences(**values)  # type: ignore[arg-type]


def channels(intents: list[ChannelIntent]) -> dict[str, str | None]:
    return {i.channel: i.suppressed_reason for i in intents}


def test_no_choice_means_every_channel_with_an_address_plus_the_in_app_feed() -> None:
    plan = channel_plan(MessageKind.OUTAGE, prefs(), now=NOW, zone=HELSINKI)
    assert channels(plan) == {"sms": None, "email": None, "in_app": None}


def test_a_chosen_channel_without_an_address_is_recorded_as_suppressed() -> None:
    plan = channel_plan(
        MessageKind.OUTAGE, prefs(chosen=frozenset({"push"})), now=NOW, zone=HELSINKI
    )
    assert channels(plan) == {"push": "no push subscription", "in_app": None}


def test_an_opted_out_channel_is_suppressed_with_the_reason() -> None:
    plan = channel_plan(
        MessageKind.OUTAGE, prefs(blocked={"sms": "opted_out"}), now=NOW, zone=HELSINKI
    )
    assert channels(plan)["sms"] == "opted_out"
    assert channels(plan)["email"] is None


def test_quiet_hours_hold_planned_notices_but_not_outage_news() -> None:
    night = datetime(2026, 11, 25, 21, 30, tzinfo=UTC)  # 23:30 in Helsinki
    quiet = prefs(quiet_hours=QuietHours(time(22), time(7)))
    planned = channel_plan(MessageKind.PLANNED_NOTICE, quiet, now=night, zone=HELSINKI)
    held = {i.channel: i.not_before for i in planned}
    assert held["sms"] == datetime(2026, 11, 26, 7, 0, tzinfo=HELSINKI)
    outage = channel_plan(MessageKind.OUTAGE, quiet, now=night, zone=HELSINKI)
    assert all(i.not_before is None for i in outage)


@pytest.mark.parametrize(
    ("text", "local", "covered"),
    [
        ("22:00-07:00", time(23, 0), True),
        ("22:00-07:00", time(6, 59), True),
        ("22:00-07:00", time(7, 0), False),
        ("22:00-07:00", time(12, 0), False),
        ("13:00-15:00", time(14, 0), True),
        ("13:00-15:00", time(15, 0), False),
    ],
)
def test_quiet_hours_cover_their_window_even_across_midnight(
    text: str, local: time, covered: bool
) -> None:
    assert QuietHours.parse(text).covers(local) is covered


@pytest.mark.parametrize("text", ["", "25:00-07:00", "07:00-07:00", "22:00", "late-early"])
def test_bad_quiet_hours_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="quiet_hours"):
        QuietHours.parse(text)


@given(minute_of_day=st.integers(0, 24 * 60 - 1))
def test_quiet_hours_always_release_outside_the_window(minute_of_day: int) -> None:
    hours = QuietHours(time(22), time(7))
    local = datetime(2026, 6, 1, tzinfo=HELSINKI) + timedelta(minutes=minute_of_day)
    release = hours.ends_after(local.astimezone(UTC), HELSINKI)
    assert release >= local
    assert not hours.covers(release.astimezone(HELSINKI).time())
    assert release - local <= timedelta(hours=9)


# ---- weather warnings (CONTRACT.md rules 6 and 7) ------------------------------------------------

EXPIRES = NOW + timedelta(hours=12)


def warning(**kw: object) -> IncidentValue:
    return facts(
        **{"kind": "warning", "etr": None, "severity": "Moderate", "ends_at": EXPIRES, **kw}
    )


def test_a_customer_in_a_warnings_area_gets_one_advisory() -> None:
    assert run(warning(), CustomerState(affected_now=True)) is MessageKind.ADVISORY
    assert run(warning(), told(told_severity="Moderate")) is None
    assert run(warning(), CustomerState(affected_now=False)) is None


@pytest.mark.parametrize(
    ("told_severity", "now_severity", "again"),
    [
        ("Moderate", "Severe", True),
        ("Severe", "Extreme", True),
        ("Moderate", "Moderate", False),
        ("Severe", "Moderate", False),  # lowered: not news worth a message
        (None, "Moderate", True),  # told of an Unknown severity
    ],
)
def test_only_a_raised_warning_sends_another_advisory(
    told_severity: str | None, now_severity: str, again: bool
) -> None:
    state = told(told_severity=told_severity, told_etr=None)
    kind = run(warning(severity=now_severity), state)
    assert kind is (MessageKind.ADVISORY if again else None)


@pytest.mark.parametrize("status", ["cancelled", "expired"])
def test_the_end_of_a_warning_sends_nothing_to_anyone(status: str) -> None:
    assert run(warning(status=status), told(told_severity="Moderate")) is None
    assert run(warning(status=status), CustomerState(affected_now=True)) is None
    left = told(affected_now=False, told_severity="Moderate")
    assert run(warning(), left) is None  # left the area: no "all clear" either


def test_a_warning_past_its_expiry_sends_nothing_even_before_the_sweep_closes_it() -> None:
    assert run(warning(ends_at=NOW), CustomerState(affected_now=True)) is None


def test_advisories_wait_for_quiet_hours_to_end_unless_the_warning_is_extreme() -> None:
    assert deferrable(MessageKind.ADVISORY, warning(severity="Severe"))
    assert not deferrable(MessageKind.ADVISORY, warning(severity="Extreme"))
    assert not deferrable(MessageKind.OUTAGE, facts())
    night = datetime(2026, 11, 25, 21, 30, tzinfo=UTC)  # 23:30 in Helsinki
    quiet = prefs(quiet_hours=QuietHours(time(22), time(7)))
    held = channel_plan(
        MessageKind.ADVISORY, quiet, now=night, zone=HELSINKI, deferrable=True, expires=EXPIRES
    )
    assert {i.channel: i.not_before for i in held}["sms"] == datetime(
        2026, 11, 26, 7, 0, tzinfo=HELSINKI
    )
    extreme = channel_plan(
        MessageKind.ADVISORY, quiet, now=night, zone=HELSINKI, deferrable=False, expires=EXPIRES
    )
    assert all(i.not_before is None and i.suppressed_reason is None for i in extreme)


def test_an_advisory_that_would_wait_past_the_warnings_expiry_is_not_sent() -> None:
    night = datetime(2026, 11, 25, 21, 30, tzinfo=UTC)  # 23:30; quiet until 07:00 local
    quiet = prefs(quiet_hours=QuietHours(time(22), time(7)))
    expires = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)  # 06:00 local
    plan = channel_plan(
        MessageKind.ADVISORY, quiet, now=night, zone=HELSINKI, deferrable=True, expires=expires
    )
    reasons = channels(plan)
    assert (
        reasons["sms"]
        == reasons["email"]
        == ("the warning expires before the customer's quiet hours end")
    )
    assert reasons["in_app"] is None  # the feed shows it at once: nobody is woken by it
