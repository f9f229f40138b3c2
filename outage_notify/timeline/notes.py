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
    note = clean_words(text, limit=MAX_NOTE, code="note", what="the note")
    if note is None:
        raise ActionRefused("the note is empty: write what happened", code="note_empty")
    return note


def clean_words(text: str, *, limit: int, code: str, what: str) -> str | None:
    """An agent's or a customer's words as kept (line breaks made \\n, ends trimmed; None when
    empty), or ActionRefused (codes `<code>_too_long`, `<code>_control`)."""
    words = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(words) > limit:
        raise ActionRefused(
            f"{what} is {len(words)} characters: at most {limit}",
            code=f"{code}_too_long",
            length=str(len(words)),
            limit=str(limit),
        )
    if _CONTROL.search(words):
        raise ActionRefused(
            f"{what} holds control characters: only text and line breaks",
            code=f"{code}_control",
        )
    return words or None


def add_note(
    session: Session, *, customer_pk: int, text: str, by: str, now: datetime
) -> timeline.Event:
    """Logs the note on the customer's timeline; ActionRefused if the text is not a note."""
    event = timeline.Event(
        customer_pk=customer_pk, at=now, type=timeline.NOTE, body=clean_note(text), data={"by": by}
    )
    timeline.log_event(session, event)
    return event
