"""An agent's note: checked (pure: empty, too long, control characters refused with a reason;
line breaks kept) and logged on the customer's timeline with who wrote it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from outage_notify.customers.service import upsert_customers
from outage_notify.db.models import Customer, TimelineEvent
from outage_notify.errors import ActionRefused
from outage_notify.ingest.customers import CustomerRules, parse_json_list
from outage_notify.runtime import Runtime
from outage_notify.timeline import service as timeline
from outage_notify.timeline.notes import MAX_NOTE, add_note, clean_note
from outage_notify.timeutil import utcnow
from tests.town import customer


def test_a_note_keeps_its_line_breaks_and_loses_its_margins() -> None:
    assert clean_note("  Called at 21:10.\r\nPromised a call back.\n") == (
        "Called at 21:10.\nPromised a call back."
    )
    assert clean_note("x" * MAX_NOTE) == "x" * MAX_NOTE


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "note_empty"),
        (" \n\t ", "note_empty"),
        ("x" * (MAX_NOTE + 1), "note_too_long"),
        ("bell\x07", "note_control"),
        ("nul\x00", "note_control"),
        ("escape \x1b[31m", "note_control"),
        ("line\u2028separator", "note_control"),
    ],
)
def test_what_is_not_a_note_is_refused_with_a_reason(text: str, code: str) -> None:
    with pytest.raises(ActionRefused) as refused:
        clean_note(text)
    assert refused.value.code == code and refused.value.status == 422
    assert refused.value.message


@given(st.text(max_size=MAX_NOTE + 50))
def test_any_text_is_a_clean_note_or_a_refusal(text: str) -> None:
    code = None
    try:
        note = clean_note(text)
    except ActionRefused as refused:
        code = refused.code
    if code is not None:
        assert code in ("note_empty", "note_too_long", "note_control")
    else:
        assert 1 <= len(note) <= MAX_NOTE and "\r" not in note and note == note.strip()


def test_a_note_lands_on_the_timeline_with_its_author(runtime: Runtime) -> None:
    now = utcnow()
    parsed = parse_json_list([customer(0, 0)], CustomerRules())
    with runtime.transaction() as session:
        upsert_customers(session, records=[r for _, r in parsed.records], now=now)
        pk = session.scalar(select(Customer.id))
        assert pk is not None
        add_note(session, customer_pk=pk, text="Asked about the estimate.", by="agent-1", now=now)
        with pytest.raises(ActionRefused):
            add_note(session, customer_pk=pk, text="  ", by="agent-1", now=now)
    with runtime.reading() as session:
        [event] = session.scalars(select(TimelineEvent)).all()
    assert event.type == timeline.NOTE and event.body == "Asked about the estimate."
    assert event.data == {"by": "agent-1"}
