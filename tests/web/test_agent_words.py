"""The agent desk's words (pure): an estimate as an agent says it to a caller, what became of
a message, and the timeline grouped into conversations by incident, newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from outage_notify.public.words import Voice
from outage_notify.web import i18n
from outage_notify.web.agent import conversation
from outage_notify.web.agent_words import delivery_words, estimate_words

ZONE = ZoneInfo("Europe/Helsinki")
NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # 19:00 in Helsinki


def estimate(**fields: object) -> str:
    values: dict[str, object] = {
        "kind": "unplanned",
        "status": "in_progress",
        "etr": None,
        "starts_at": None,
        "ends_at": None,
        **fields,
    }
    return estimate_words(now=NOW, zone=ZONE, **values).words  # type: ignore[arg-type]


def test_estimates_in_plain_words() -> None:
    assert estimate() == "No estimate yet"
    assert (
        estimate(etr=NOW + timedelta(hours=2, minutes=30)) == "Power expected back by 21:30 today"
    )
    assert estimate(etr=NOW - timedelta(hours=1)) == "Overdue since 18:00 today"
    assert estimate_words(
        kind="unplanned",
        status="detected",
        etr=NOW - timedelta(minutes=1),
        starts_at=None,
        ends_at=None,
        now=NOW,
        zone=ZONE,
    ).overdue
    tomorrow = NOW + timedelta(hours=11)
    assert estimate(kind="planned", starts_at=tomorrow, ends_at=tomorrow + timedelta(hours=2)) == (
        "Planned break from 06:00 tomorrow to 08:00 tomorrow"
    )
    assert estimate(
        kind="planned", starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(hours=1)
    ) == ("Power expected back by 20:00 today")
    assert (
        estimate(kind="warning", ends_at=NOW + timedelta(hours=3)) == "In force until 22:00 today"
    )
    assert estimate(status="restored") == "Over"


@pytest.mark.parametrize(
    ("lang", "word"), [("fi", "Sähköt arviolta takaisin"), ("sv", "Strömmen väntas")]
)
def test_estimates_in_finnish_and_swedish(lang: str, word: str) -> None:
    voice = Voice(i18n.translations(lang), i18n.format_locale(lang))
    said = estimate_words(
        kind="unplanned",
        status="in_progress",
        etr=NOW + timedelta(hours=1),
        starts_at=None,
        ends_at=None,
        now=NOW,
        zone=ZONE,
        voice=voice,
    )
    assert said.words.startswith(word)


def test_what_became_of_a_message() -> None:
    assert delivery_words("delivered", None) == "Delivered"
    assert delivery_words("suppressed", "no push subscription") == "Not sent: no push subscription"
    assert delivery_words("suppressed", "opted_out") == (
        "Not sent: the customer opted out of this channel"
    )
    assert delivery_words("failed", "30003 unreachable") == "Failed: 30003 unreachable"


def _event(at: datetime, type: str, incident_id: str | None = None, **more: object) -> dict:
    return {"at": at.isoformat(), "type": type, "incident_id": incident_id, **more}


def test_the_timeline_grouped_by_incident_newest_first() -> None:
    entries = [
        _event(NOW, "note", body="before anything", data={"by": "a"}),
        _event(
            NOW + timedelta(minutes=1),
            "incident_affected",
            "inc_1",
            incident={"kind": "unplanned", "status": "detected", "external_id": "OMS-1"},
        ),
        _event(
            NOW + timedelta(minutes=2),
            "incident_affected",
            "inc_2",
            incident={"kind": "planned", "status": "detected", "external_id": "PW-2"},
        ),
        _event(
            NOW + timedelta(minutes=3),
            "message",
            "inc_1",
            channel="sms",
            kind="outage",
            notification_id=7,
            body="Power cut",
            status="delivered",
            history=[],
        ),
        _event(NOW + timedelta(minutes=4), "reply", body="Kiitos"),
        _event(NOW + timedelta(minutes=5), "preference_changed", body="SMS opted out (STOP)"),
    ]
    groups = conversation(entries, now=NOW, zone=ZONE, voice=Voice(), reachable=["sms", "email"])
    assert [g.title for g in groups] == [
        "Power outage OMS-1",
        "Planned work PW-2",
        "Not about an incident",
    ]
    first = groups[0]
    assert [e.type for e in first.entries] == [
        "preference_changed",
        "reply",
        "message",
        "incident_affected",
    ]
    assert first.entries[0].body == "Opted out of SMS by replying STOP"
    assert first.entries[1].side == "customer" and first.entries[2].resend_to == ["email"]
    assert first.estimate is not None and first.estimate.words == "No estimate yet"
