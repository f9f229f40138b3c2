"""`outage-notify demo`: the storm night played from the weather service's CAP warning and the
feed's snapshots on a simulated clock.
What each of a few named demo-town customers hears and when (local time), that every message
is on the timeline, and that a second run on the same database plays the night again without
touching the first run's messages."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from outage_notify.auth.users import WrongCredentials, authenticate
from outage_notify.config import Settings
from outage_notify.db.models import Customer, Incident, Notification, TimelineEvent
from outage_notify.demo import play
from outage_notify.runtime import Runtime

# Named customers of fixtures/demo_town/customers.csv and where the night finds them.
UNDER_THE_TREE = "PRV-000206"  # under the first polygon, out until the feed empties at 23:40
JOINED_LATER = "PRV-000034"  # reached when the area grew at 19:00, switched back at 22:30
ON_FEEDER_F03 = "PRV-000088"  # the substation breaker's feeder (a point with `feeders`)
RECLOSER = "PRV-000836"  # in the momentary cut's area
MAINTENANCE = "PRV-000170"  # on transformer T-051314: the planned work
ELSEWHERE = "PRV-000001"  # east of the storm, on another feeder and transformer
IN_THE_WIND = "PRV-005412"  # a house in the wind warning's area (the south-west coast)
ON_FEEDER_F08 = "PRV-000036"  # in town, outside the warning, but F-08's line runs through it


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def inspect(settings: Settings) -> Iterator[Callable[[], Runtime]]:
    """A runtime over the demo's database, opened after the demo has closed its own."""
    opened: list[Runtime] = []

    def open_runtime() -> Runtime:
        opened.append(Runtime.build(settings))
        return opened[-1]

    yield open_runtime
    for runtime in opened:
        runtime.close()


def heard(runtime: Runtime, customer_id: str) -> list[tuple[str, str]]:
    """(kind, local HH:MM) of the customer's in-app messages (always written), in order."""
    zone = runtime.settings.zone
    with runtime.reading() as session:
        rows = session.execute(
            select(Notification.kind, Notification.created_at)
            .join(Customer, Customer.id == Notification.customer_pk)
            .where(Customer.customer_id == customer_id, Notification.channel == "in_app")
            .order_by(Notification.id)
        ).all()
    return [(kind, f"{at.astimezone(zone):%H:%M}") for kind, at in rows]


def messages_of(runtime: Runtime, incident_ids: set[str]) -> Counter[tuple[str, str, str]]:
    """(customer id, kind, channel) of every message about these incidents."""
    with runtime.reading() as session:
        rows = session.execute(
            select(Customer.customer_id, Notification.kind, Notification.channel)
            .join(Customer, Customer.id == Notification.customer_pk)
            .where(Notification.incident_id.in_(incident_ids))
        ).all()
    return Counter((c, k, ch) for c, k, ch in rows)


def test_the_storm_night_and_a_second_run_on_the_same_database(
    settings: Settings, inspect: Callable[[], Runtime]
) -> None:
    """Each named customer hears what their night called for, at its simulated local time;
    every message is on the timeline; a second run plays the night again (new incidents, the
    same messages) and adds nothing to the first night's. One test: each run takes seconds."""
    printed: list[str] = []
    result = play(settings, say=printed.append)
    runtime = inspect()

    assert heard(runtime, UNDER_THE_TREE) == [
        ("outage", "18:31"),  # listed at 18:30, two minutes old: told once CONFIRM_SECONDS passed
        ("etr_update", "18:45"),  # the first estimate, 21:00
        ("etr_update", "20:15"),  # moved later, to 21:45
        ("etr_missed", "22:00"),  # 21:45 + ETR_GRACE_MINUTES with no news
        ("restored", "23:41"),  # the second poll without it (RESTORE_AFTER_POLLS)
    ]
    assert heard(runtime, JOINED_LATER) == [
        ("outage", "19:00"),  # already names the 21:00 estimate
        ("etr_update", "20:15"),
        ("etr_missed", "22:00"),
        ("restored", "22:30"),  # left out when the area shrank
    ]
    assert heard(runtime, ON_FEEDER_F03) == [("outage", "19:40"), ("restored", "21:06")]
    assert heard(runtime, MAINTENANCE) == [
        ("planned_notice", "17:30"),
        # No planned_reminder at 18:00: told half an hour before, they have just heard it.
        ("planned_done", "06:00"),  # closed by itself at its end
    ]
    assert heard(runtime, RECLOSER) == []
    assert heard(runtime, ELSEWHERE) == []
    # The storm warning first: yellow at 17:30, raised to orange at 18:15, to the customers in
    # its area and to those whose feeder's line crosses it.
    assert heard(runtime, IN_THE_WIND) == [("advisory", "17:30"), ("advisory", "18:15")]
    assert heard(runtime, ON_FEEDER_F08) == [("advisory", "17:30"), ("advisory", "18:15")]
    with runtime.reading() as session:
        [sv_sms] = session.scalars(
            select(Notification.body)
            .join(Customer, Customer.id == Notification.customer_pk)
            .where(
                Customer.customer_id == ON_FEEDER_F08,
                Notification.channel == "sms",
                Notification.kind == "advisory",
            )
            .order_by(Notification.id)
            .limit(1)
        ).all()
    assert sv_sms.startswith("Gul vindvarning: sydvästra Borgå, ")
    assert "strömavbrott är möjliga kl. 20.00 - " in sv_sms

    with runtime.reading() as session:
        recloser = session.scalar(select(Customer.id).where(Customer.customer_id == RECLOSER))
        why = session.scalars(
            select(TimelineEvent.reason).where(
                TimelineEvent.customer_pk == recloser, TimelineEvent.type == "incident_closed"
            )
        ).all()
        momentary = session.scalar(
            select(Incident).where(Incident.id == result.incidents["OMS-7002"])
        )
        assert momentary is not None
        assert momentary.confirmed_at is None and momentary.status == "restored"
    assert len(why) == 1 and why[0] is not None and "momentary" in why[0]

    # Every message is on its customer's timeline, its last event with the message's status
    # (one held for later would be `queued` there, with its time in not_before).
    with runtime.reading() as session:
        notifications = session.execute(
            select(Notification.id, Notification.status, Notification.not_before)
        ).all()
        last_status: dict[int | None, str | None] = {}
        for notification_id, status in session.execute(
            select(TimelineEvent.notification_id, TimelineEvent.status)
            .where(TimelineEvent.notification_id.is_not(None))
            .order_by(TimelineEvent.id)
        ):
            last_status[notification_id] = status
    assert notifications
    for notification_id, status, not_before in notifications:
        assert last_status.get(notification_id) == status, notification_id
        assert status in ("delivered", "suppressed") or not_before is not None

    # The printout names the simulated local time of what happened, and who did it.
    assert printed[0] == "Demo town loaded: 5699 customers in Porvoo (fixtures/demo_town)."
    assert "[18:31] OMS-7001: CONFIRMED by rule:confirm; 474 affected; 644 messages delivered" in (
        printed
    )
    assert "[19:12] OMS-7002: STATUS_CHANGED, RESTORED by the feed; 0 affected" in printed
    assert any(
        line.startswith("[22:00] OMS-7001: ETR_MISSED by rule:etr-missed") for line in printed
    )
    assert any(
        line.startswith("    wrn_")
        and "NEW by the weather service's CAP feed; 459 affected" in line
        for line in printed
    )
    assert any("EXPIRED by rule:warning-expiry" in line for line in printed)
    # Then the demo users, each with a password of its own, shown once.
    assert printed[-4:] == [
        f"Messages sent: {result.messages}.",
        "Sign in at /login (these passwords are shown once; each demo run makes new ones):",
        f"  demo-agent  {result.passwords['demo-agent']}  (agent)",
        f"  demo-operator  {result.passwords['demo-operator']}  (operator)",
    ]
    assert signs_in(runtime, result.passwords) == {
        "demo-agent": "agent",
        "demo-operator": "operator",
    }

    # ---- the same night again, on the same database
    first_ids = set(result.incidents.values())
    before = messages_of(runtime, first_ids)

    second = play(settings, say=lambda _: None)
    runtime = inspect()
    second_ids = set(second.incidents.values())
    # The warning, the planned work and three feed outages.
    assert len(first_ids) == len(second_ids) == 5
    assert not first_ids & second_ids
    assert messages_of(runtime, first_ids) == before  # nothing new about the first night
    assert messages_of(runtime, second_ids) == before  # and the same messages for the second
    assert second.messages == result.messages
    # A second run cannot show the first one's passwords: it gives the demo users new ones.
    assert signs_in(runtime, second.passwords) == {
        "demo-agent": "agent",
        "demo-operator": "operator",
    }
    with pytest.raises(WrongCredentials), runtime.reading() as session:
        authenticate(session, username="demo-agent", password=result.passwords["demo-agent"])


def signs_in(runtime: Runtime, passwords: dict[str, str]) -> dict[str, str]:
    """username → role of each user whose password works."""
    with runtime.reading() as session:
        return {
            name: authenticate(session, username=name, password=password).role
            for name, password in passwords.items()
        }
