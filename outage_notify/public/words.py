"""The public map's times, states and counts in plain words (English; each a whole sentence or
a whole phrase with placeholders, ready for the message catalogs). Pure: no database."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from outage_notify.incidents.model import IncidentKind, Status
from outage_notify.public.privacy import MIN_PUBLIC_COUNT

STATUS_WORDS = {
    (IncidentKind.UNPLANNED, Status.DETECTED): "Reported: the cause is being found",
    (IncidentKind.UNPLANNED, Status.CREW_ASSIGNED): "A crew is on its way",
    (IncidentKind.UNPLANNED, Status.IN_PROGRESS): "Repair under way",
    (IncidentKind.PLANNED, Status.DETECTED): "Scheduled",
    (IncidentKind.PLANNED, Status.CREW_ASSIGNED): "Scheduled: a crew is assigned",
    (IncidentKind.PLANNED, Status.IN_PROGRESS): "Work under way",
    (IncidentKind.WARNING, Status.DETECTED): "In force",
    (IncidentKind.WARNING, Status.CREW_ASSIGNED): "In force",
    (IncidentKind.WARNING, Status.IN_PROGRESS): "In force",
}


def status_words(kind: str, status: str) -> str:
    return STATUS_WORDS.get((IncidentKind(kind), Status(status)), status.replace("_", " "))


def count_words(count: int) -> str:
    """How many customers, as the public may read it."""
    if count < MIN_PUBLIC_COUNT:
        return f"fewer than {MIN_PUBLIC_COUNT} customers"
    return f"{count:,} customers"


def clock(moment: datetime, *, now: datetime, zone: ZoneInfo) -> str:
    """A local time, with the day said the way people say it: "21:30 today"."""
    local, today = moment.astimezone(zone), now.astimezone(zone).date()
    days = (local.date() - today).days
    if days == 0:
        return f"{local:%H:%M} today"
    if days == 1:
        return f"{local:%H:%M} tomorrow"
    if days == -1:
        return f"{local:%H:%M} yesterday"
    return f"{local:%H:%M} on {local:%a} {local.day} {local:%b}"


def span(delta: timedelta) -> str:
    """A duration rounded the way people round it: "25 minutes", "about 2 hours"."""
    minutes = max(0, round(delta.total_seconds() / 60))
    if minutes < 1:
        return "less than a minute"
    if minutes == 1:
        return "1 minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(minutes / 60)
    if hours < 48:
        return "about 1 hour" if hours == 1 else f"about {hours} hours"
    return f"about {round(hours / 24)} days"


def ago(moment: datetime, *, now: datetime) -> str:
    if now - moment < timedelta(minutes=1):
        return "just now"
    return f"{span(now - moment)} ago"


def etr_words(etr: datetime | None, *, now: datetime, zone: ZoneInfo) -> str:
    """When the power is expected back, or why no time is given."""
    if etr is None:
        return "No estimate yet: the damage is still being assessed."
    if etr <= now:
        return (
            f"The estimate of {clock(etr, now=now, zone=zone)} has passed. "
            "A new estimate will follow."
        )
    return f"Expected back by {clock(etr, now=now, zone=zone)} (in {span(etr - now)})."


def window_words(
    starts: datetime | None, ends: datetime | None, *, now: datetime, zone: ZoneInfo
) -> str:
    """A planned break or a warning's validity: "from 04:00 tomorrow to 06:00 tomorrow"."""
    if starts and ends:
        return f"From {clock(starts, now=now, zone=zone)} to {clock(ends, now=now, zone=zone)}."
    if starts:
        return f"From {clock(starts, now=now, zone=zone)}, until further notice."
    if ends:
        return f"Until {clock(ends, now=now, zone=zone)}."
    return "Until further notice."
