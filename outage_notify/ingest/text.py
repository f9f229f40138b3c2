"""Text fields as people send them: control characters are refused, not stored. Pure.

A NUL or an escape sequence has no business in a name, an address or an id: it can cut a C
string short (SQLite's LIKE), split an SMS or an email header, or hide text on a terminal.
Line breaks (CR, LF) and tabs are kept only where several lines make sense: the operator's
message to customers.
"""

from __future__ import annotations

import re

from outage_notify.ingest.records import RecordError

# C0, DEL, C1, and the Unicode line and paragraph separators.
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_BUT_LINE_BREAKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")


def check_text(text: str, name: str, *, multiline: bool = False) -> str:
    """The text unchanged, or RecordError naming the field and the character."""
    found = (_CONTROL_BUT_LINE_BREAKS if multiline else _ANY_CONTROL).search(text)
    if found:
        raise RecordError(
            f"{name} contains a control character (U+{ord(found.group()):04X}) at position "
            f"{found.start() + 1}",
            code="text_control",
            field=name,
        )
    return text


def has_control(text: str) -> bool:
    return _ANY_CONTROL.search(text) is not None


def one_line(text: str) -> str:
    """Every control character (line breaks too) made a space: for text that arrives from
    outside validation (an SMS reply, a row stored before it existed) on its way into a
    header or a one-line message."""
    return _ANY_CONTROL.sub(" ", text)
