"""The agent desk in plain words, in the reader's language: an incident's estimate as an agent
says it to a caller ("Power expected back by 21:30 today", "No estimate yet", "Overdue since
19:00 today"), what became of a message and why, what a timeline event was. Each a whole
phrase with placeholders in the pages' catalogs, through the `Voice` passed in. Pure: no
database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from outage_notify.customers.optouts import ERASED, OPTED_OUT
from outage_notify.incidents.model import ACTIVE_STATUSES, IncidentKind, MessageKind
from outage_notify.planning.rules import EXPIRES_IN_QUIET_HOURS, MISSING_ADDRESS
from outage_notify.public.words import ENGLISH, N_, Voice, clock

KIND_WORDS = {
    IncidentKind.UNPLANNED: N_("Power outage"),
    IncidentKind.PLANNED: N_("Planned work"),
    IncidentKind.WARNING: N_("Weather warning"),
}
CHANNEL_WORDS = {"sms": N_("SMS"), "email": N_("Email"), "push": N_("Push"), "in_app": N_("In-app")}
MESSAGE_WORDS = {
    MessageKind.OUTAGE: N_("outage notice"),
    MessageKind.ETR_UPDATE: N_("new estimate"),
    MessageKind.ETR_MISSED: N_("estimate missed"),
    MessageKind.REASSURANCE: N_("still working on it"),
    MessageKind.RESTORED: N_("power restored"),
    MessageKind.CANCELLED: N_("outage cancelled"),
    MessageKind.COMPENSATION: N_("compensation"),
    MessageKind.ADVISORY: N_("weather advisory"),
    MessageKind.PLANNED_NOTICE: N_("planned work notice"),
    MessageKind.PLANNED_REMINDER: N_("planned work reminder"),
    MessageKind.PLANNED_CHANGED: N_("planned work changed"),
    MessageKind.PLANNED_CANCELLED: N_("planned work cancelled"),
    MessageKind.PLANNED_DONE: N_("planned work done"),
}
# Why a message was not sent, as planning and delivery record it, in words for the agent.
REASON_WORDS = {
    MISSING_ADDRESS["sms"]: N_("no phone number"),
    MISSING_ADDRESS["email"]: N_("no email address"),
    MISSING_ADDRESS["push"]: N_("no push subscription"),
    OPTED_OUT: N_("the customer opted out of this channel"),
    ERASED: N_("the customer's data was erased"),
    EXPIRES_IN_QUIET_HOURS: N_("the warning expires before the customer's quiet hours end"),
    "nothing about this incident was sent on this channel": N_(
        "nothing about this incident was sent on this channel"
    ),
}
PREFERENCE_FIELDS = {
    "channels": N_("channels"),
    "quiet_hours": N_("quiet hours"),
    "language": N_("language"),
}


@dataclass(frozen=True)
class Estimate:
    """An incident's estimate in words; `overdue` when a time promised has passed."""

    words: str
    overdue: bool = False


def estimate_words(
    *,
    kind: str,
    status: str,
    etr: datetime | None,
    starts_at: datetime | None,
    ends_at: datetime | None,
    now: datetime,
    zone: ZoneInfo,
    voice: Voice = ENGLISH,
) -> Estimate:
    """When the power is expected back (or the planned break or the warning ends), as an agent
    says it to a caller."""

    def at(moment: datetime) -> str:
        return clock(moment, now=now, zone=zone, voice=voice)

    if status not in ACTIVE_STATUSES:
        return Estimate(voice.gettext("Over"))
    if kind == IncidentKind.WARNING:
        if ends_at is None:
            return Estimate(voice.gettext("In force until further notice"))
        return Estimate(voice.gettext("In force until %(when)s", when=at(ends_at)))
    if kind == IncidentKind.PLANNED and etr is None:
        if starts_at is not None and starts_at > now:
            if ends_at is None:
                return Estimate(voice.gettext("Planned break from %(start)s", start=at(starts_at)))
            return Estimate(
                voice.gettext(
                    "Planned break from %(start)s to %(end)s", start=at(starts_at), end=at(ends_at)
                )
            )
        etr = ends_at
    if etr is None:
        return Estimate(voice.gettext("No estimate yet"))
    if etr <= now:
        return Estimate(voice.gettext("Overdue since %(when)s", when=at(etr)), overdue=True)
    return Estimate(voice.gettext("Power expected back by %(when)s", when=at(etr)))


def delivery_words(status: str | None, reason: str | None, *, voice: Voice = ENGLISH) -> str:
    """What became of a message, and why when it was not delivered."""
    why = reason_words(reason, voice=voice)
    if status == "delivered":
        return voice.gettext("Delivered")
    if status == "sent":
        return voice.gettext("Sent, delivery not confirmed yet")
    if status == "queued":
        return voice.gettext("Waiting to be sent")
    if status == "failed":
        return voice.gettext("Failed: %(why)s", why=why) if why else voice.gettext("Failed")
    if status == "suppressed":
        return voice.gettext("Not sent: %(why)s", why=why) if why else voice.gettext("Not sent")
    return status or ""


def reason_words(reason: str | None, *, voice: Voice = ENGLISH) -> str:
    if not reason:
        return ""
    known = REASON_WORDS.get(reason)
    return voice.gettext(known) if known else reason  # a provider's own words, as it gave them


def kind_words(kind: str | None, *, voice: Voice = ENGLISH) -> str:
    words = KIND_WORDS.get(IncidentKind(kind)) if kind in tuple(IncidentKind) else None
    return voice.gettext(words) if words else (kind or "")


def channel_words(channel: str | None, *, voice: Voice = ENGLISH) -> str:
    words = CHANNEL_WORDS.get(channel or "")
    return voice.gettext(words) if words else (channel or "")


def message_words(kind: str | None, *, voice: Voice = ENGLISH) -> str:
    words = MESSAGE_WORDS.get(MessageKind(kind)) if kind in tuple(MessageKind) else None
    return voice.gettext(words) if words else (kind or "").replace("_", " ")


def field_words(field: str, *, voice: Voice = ENGLISH) -> str:
    words = PREFERENCE_FIELDS.get(field)
    return voice.gettext(words) if words else field
