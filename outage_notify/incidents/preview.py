"""What an operator's change would do, before it is made: how many customers it reaches (one
set-based count, nothing written) and the exact SMS a customer would get in each language.

The SMS shown is the message an affected customer who has not heard of the incident gets (the
outage notice, or the planned-work notice), or, for a change of an incident already told,
what the change is news of (a new estimate, power back, cancelled). The customer's own address
goes where ADDRESS_SHOWN stands; the segments are counted with that marker in its place, so a
long street name may add one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from outage_notify.config import LANGUAGES
from outage_notify.incidents.model import IncidentValue, MessageKind, Status
from outage_notify.incidents.service import IncidentService
from outage_notify.planning.messages import MessageRenderer

ADDRESS_SHOWN = "[address]"


@dataclass(frozen=True)
class SmsPreview:
    language: str
    text: str
    encoding: str
    segments: int


@dataclass(frozen=True)
class Preview:
    affected: int
    kind: MessageKind
    sms: tuple[SmsPreview, ...]


def preview_kind(previous: IncidentValue | None, record: IncidentValue) -> MessageKind:
    """The message this change is news of. Pure."""
    if record.planned:
        if previous is None:
            return MessageKind.PLANNED_NOTICE
        if record.status == Status.CANCELLED:
            return MessageKind.PLANNED_CANCELLED
        if record.status == Status.RESTORED:
            return MessageKind.PLANNED_DONE
        return MessageKind.PLANNED_CHANGED
    if previous is not None:
        if record.status == Status.RESTORED:
            return MessageKind.RESTORED
        if record.status == Status.CANCELLED:
            return MessageKind.CANCELLED
        if record.etr is not None and record.etr != previous.etr:
            return MessageKind.ETR_UPDATE
    return MessageKind.OUTAGE


def preview(
    session: Session,
    *,
    service: IncidentService,
    renderer: MessageRenderer,
    record: IncidentValue,
    previous: IncidentValue | None,
    now: datetime,
) -> Preview:
    """The count and the texts for `record` (the incident as it would stand), `previous` its
    current state (None: a new incident). Reads only."""
    kind = preview_kind(previous, record)
    later = None
    if kind is MessageKind.ETR_UPDATE and previous is not None and previous.etr is not None:
        assert record.etr is not None
        later = record.etr > previous.etr
    texts = []
    for language in LANGUAGES:
        rendered = renderer.render(
            kind=kind,
            channel="sms",
            language=language,
            incident=record,
            now=now,
            address=ADDRESS_SHOWN,
            later=later,
        )
        assert rendered.sms is not None  # an SMS is always fitted
        texts.append(
            SmsPreview(
                language=language,
                text=rendered.sms.text,
                encoding=rendered.sms.encoding,
                segments=rendered.sms.segments,
            )
        )
    # Closing too is told to the customers of the extent, so the count is the extent's.
    affected = service.affected_count(session, record)
    return Preview(affected=affected, kind=kind, sms=tuple(texts))
