"""An agent's note on a customer's timeline: what the customer said on the phone, what was
promised. Checked first (`note_problem`, pure), then logged as a timeline event of type "note"
with the agent's username in its data. The service never commits."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.orm import Session

from outage_notify.errors import ActionRefused
from outage_notify.timeline import service as timeline

MAX_NOTE = 2000
# Line breaks and tabs are how people write; every other control character is refused.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")


def clean_note(text: str) -> str:
    """The note as it will be stored (line breaks made \\n, ends trimmed), or ActionRefused."""
    note = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not note:
        raise ActionRefused("the note is empty: write what happened", code="note_empty")
    if len(note) > MAX_NOTE:
        raise ActionRefused(
            f"the note is {len(note)} characters: at most {MAX_NOTE}",
            code="note_too_long",
            length=str(len(note)),
            limit=str(MAX_NOTE),
        )
    if _CONTROL.search(note):
        raise ActionRefused(
            "the note holds control characters: only text and line breaks",
            code="note_control",
        )
    return note


def add_note(
    session: Session, *, customer_pk: int, text: str, by: str, now: datetime
) -> timeline.Event:
    """Logs the note on the customer's timeline; ActionRefused if the text is not a note."""
    event = timeline.Event(
        customer_pk=customer_pk, at=now, type=timeline.NOTE, body=clean_note(text), data={"by": by}
    )
    timeline.log_event(session, event)
    return event
