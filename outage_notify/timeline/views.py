"""A customer's timeline as the agent reads it: one entry per incident event and per message,
oldest first; each message shows its current status with the history of how it got there."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from outage_notify.db.models import Notification, TimelineEvent
from outage_notify.timeline import service as timeline
from outage_notify.timeutil import iso

INCIDENT_WORDS = {
    timeline.INCIDENT_AFFECTED: "affected by",
    timeline.INCIDENT_UPDATED: "update to",
    timeline.INCIDENT_RELEASED: "no longer affected by",
    timeline.INCIDENT_CLOSED: "closed",
}


def customer_timeline(
    session: Session, *, customer_pk: int, zone: ZoneInfo
) -> list[dict[str, Any]]:
    """Machine fields (`at`, the incident's data) stay ISO 8601 in UTC; the text a person
    reads (`body`) gives times in `zone`, the deployment's."""
    events = session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.customer_pk == customer_pk)
        .order_by(TimelineEvent.at, TimelineEvent.id)
    ).all()
    notifications = {
        n.id: n
        for n in session.scalars(
            select(Notification).where(Notification.customer_pk == customer_pk)
        )
    }
    entries: list[dict[str, Any]] = []
    messages: dict[int, dict[str, Any]] = {}
    for event in events:
        if event.type == timeline.MESSAGE_STATUS and event.notification_id in messages:
            messages[event.notification_id]["history"].append(_step(event))
            continue
        entry = _entry(event, notifications.get(event.notification_id or -1), zone)
        if event.type == timeline.MESSAGE and event.notification_id is not None:
            messages[event.notification_id] = entry
        entries.append(entry)
    return entries


def _entry(
    event: TimelineEvent, notification: Notification | None, zone: ZoneInfo
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "at": event.at.isoformat(),
        "type": event.type,
        "incident_id": event.incident_id,
        "channel": event.channel,
        "kind": event.kind,
        "body": event.body,
        "status": event.status,
        "reason": event.reason,
    }
    if event.type in INCIDENT_WORDS:
        entry["body"] = _incident_line(event, zone)
        entry["incident"] = event.data
    elif event.data and event.type != timeline.MESSAGE:
        entry["data"] = event.data
    if notification is not None and event.type == timeline.MESSAGE:
        entry.update(_message_fields(notification))
        entry["history"] = [_step(event)]
    return entry


def _message_fields(n: Notification) -> dict[str, Any]:
    return {
        "notification_id": n.id,
        "status": n.status,
        "reason": n.reason,
        "to": n.to_address,
        "subject": n.subject,
        "body": n.body,
        "language": n.language,
        "provider": n.provider,
        "provider_ref": n.provider_ref,
        "attempts": n.attempts,
        "possible_duplicate": n.possible_duplicate,
        "sms_segments": n.sms_segments,
        "held_until": iso(n.not_before),
        "sent_at": iso(n.sent_at),
        "delivered_at": iso(n.delivered_at),
        "fallback_of": n.fallback_of,
    }


def _step(event: TimelineEvent) -> dict[str, Any]:
    return {"at": event.at.isoformat(), "status": event.status, "reason": event.reason}


KIND_WORDS = {"unplanned": "unplanned outage", "planned": "planned outage"}


def _incident_line(event: TimelineEvent, zone: ZoneInfo) -> str:
    data = event.data or {}
    words = INCIDENT_WORDS[event.type]
    kind = data.get("kind", "incident")
    if kind == "warning":
        return _warning_line(words, data, zone)
    parts = [f"{words} {KIND_WORDS.get(kind, kind)} {data.get('external_id', '')}".strip()]
    parts.append(f"status {data.get('status')}")
    if data.get("cause"):
        parts.append(f"cause {data['cause']}")
    if data.get("etr"):
        parts.append(f"ETR {_local(data['etr'], zone)}")
    if data.get("starts_at"):
        parts.append(
            f"window {_local(data['starts_at'], zone)} – {_local(data.get('ends_at'), zone)}"
        )
    return "; ".join(parts)


def _warning_line(words: str, data: dict[str, Any], zone: ZoneInfo) -> str:
    parts = [f"{words} weather warning {data.get('external_id', '')}".strip()]
    parts.append(f"status {data.get('status')}")
    if data.get("severity"):
        parts.append(f"severity {data['severity']}")
    if data.get("cause"):
        parts.append(f"event {data['cause']}")
    if data.get("ends_at"):
        parts.append(
            f"valid {_local(data.get('starts_at'), zone)} – {_local(data['ends_at'], zone)}"
        )
    return "; ".join(parts)


def _local(value: Any, zone: ZoneInfo) -> str:
    """An ISO time from the event's data as people read clocks here, zone named."""
    if not isinstance(value, str):
        return "?"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M %Z}"
