"""Preferences changed by an agent: the new values checked (pure), the customer updated, and
the change on the timeline with who, why and each field's old and new value."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from outage_notify.customers.preferences import change_preferences, checked_preferences
from outage_notify.customers.service import upsert_customers
from outage_notify.db.models import Customer, TimelineEvent
from outage_notify.errors import ActionRefused
from outage_notify.ingest.customers import CustomerRules, parse_json_list
from outage_notify.runtime import Runtime
from outage_notify.timeline import service as timeline
from outage_notify.timeutil import utcnow
from tests.town import customer

ADDRESSES = {"phone": "+358401000000", "email": "c@example.com"}


def test_good_preferences_are_normalised() -> None:
    wanted = checked_preferences(
        channels=["push", " EMAIL ", "sms"],
        quiet_hours=" 22:00 - 7:00 ",
        language="sv",
        **ADDRESSES,
    )
    assert (wanted.channels, wanted.quiet_hours, wanted.language) == (
        "sms;email;push",
        "22:00-07:00",
        "sv",
    )
    for spoken in ("22-7", "22:00 – 7:00", "22:00-07:00"):
        assert _hours(spoken) == "22:00-07:00"
    assert _hours("") is None and _hours("  ") is None


def _hours(text: str) -> str | None:
    return checked_preferences(
        channels=["sms"], quiet_hours=text, language="fi", **ADDRESSES
    ).quiet_hours


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"channels": ["fax"]}, "channel_unknown"),
        ({"channels": []}, "channels_empty"),
        ({"channels": ["email"], "email": None}, "channel_no_address"),
        ({"channels": ["sms"], "phone": None}, "channel_no_address"),
        ({"quiet_hours": "late"}, "quiet_hours_bad"),
        ({"quiet_hours": "22:00-22:00"}, "quiet_hours_bad"),
        ({"quiet_hours": "25:00-07:00"}, "quiet_hours_bad"),
        ({"quiet_hours": "22:61-07:00"}, "quiet_hours_bad"),
        ({"quiet_hours": "22-7-8"}, "quiet_hours_bad"),
        ({"language": "de"}, "language_unknown"),
    ],
)
def test_bad_preferences_are_refused_with_a_reason(fields: dict[str, Any], code: str) -> None:
    arguments = {"channels": ["sms"], "quiet_hours": "", "language": "fi", **ADDRESSES, **fields}
    with pytest.raises(ActionRefused) as refused:
        checked_preferences(**arguments)
    assert refused.value.code == code and refused.value.status == 422


def _customer(runtime: Runtime, **fields: Any) -> None:
    parsed = parse_json_list([customer(0, 0, **fields)], CustomerRules())
    with runtime.transaction() as session:
        upsert_customers(session, records=[r for _, r in parsed.records], now=utcnow())


def _change(runtime: Runtime, **fields: Any) -> dict[str, list[Any]]:
    arguments = {
        "channels": ["sms", "email"],
        "quiet_hours": "",
        "language": "fi",
        "reason": "asked on the phone",
        "by": "agent-1",
        "has_push": False,
        "now": utcnow(),
        **fields,
    }
    with runtime.transaction() as session:
        person = session.scalar(select(Customer))
        assert person is not None
        return change_preferences(session, customer=person, **arguments)


def test_a_change_updates_the_customer_and_says_who_why_and_what(runtime: Runtime) -> None:
    _customer(runtime, language="fi", channels="sms;email", quiet_hours=None)
    changes = _change(
        runtime, channels=["email"], quiet_hours="22:00-07:00", reason="  sleeps  early "
    )
    assert changes == {"channels": ["sms;email", "email"], "quiet_hours": [None, "22:00-07:00"]}
    with runtime.reading() as session:
        person = session.scalar(select(Customer))
        [event] = session.scalars(select(TimelineEvent)).all()
    assert person is not None and person.channels == "email" and person.quiet_hours == "22:00-07:00"
    assert event.type == timeline.PREFERENCE_CHANGED and event.reason == "sleeps early"
    assert event.data == {"by": "agent-1", "reason": "sleeps early", "changes": changes}


def test_choosing_every_channel_with_an_address_again_keeps_no_choice_recorded(
    runtime: Runtime,
) -> None:
    _customer(runtime, language="fi", channels=None)
    changes = _change(runtime, language="en")
    assert changes == {"language": ["fi", "en"]}
    with runtime.reading() as session:
        person = session.scalar(select(Customer))
    assert person is not None and person.channels is None and person.language == "en"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"reason": "  "}, "reason_missing"),
        ({"reason": "x" * 501}, "reason_bad"),
        ({"reason": "tab\x00"}, "reason_bad"),
        ({}, "unchanged"),
        ({"quiet_hours": "nonsense"}, "quiet_hours_bad"),
    ],
)
def test_a_refused_change_changes_nothing(
    runtime: Runtime, fields: dict[str, Any], code: str
) -> None:
    _customer(runtime, language="fi", channels="sms;email")
    with pytest.raises(ActionRefused) as refused:
        _change(runtime, **fields)
    assert refused.value.code == code
    with runtime.reading() as session:
        assert session.scalars(select(TimelineEvent)).all() == []
        person = session.scalar(select(Customer))
    assert person is not None and person.quiet_hours is None
