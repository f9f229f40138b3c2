"""The decision table: (incident, one customer's state, preferences, now) → what to send. Pure.

Decisions read the customer's *state* (affected? told? which ETR did they hear?) rather than the
incident's change events, so re-posting the same incident finds nothing new to say, and a
customer is compared with what *they* were told, not with the incident's previous revision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from outage_notify.incidents.model import (
    IncidentKind,
    IncidentValue,
    MessageKind,
    Status,
    severity_rank,
)

CHANNELS = ("sms", "email", "push")  # what a customer chooses; in_app is always written


M = MessageKind

# Announcements that can wait until morning; news of a live outage cannot. A cancellation is
# good news about something that has not happened: no reason to wake anyone for it. An
# advisory waits too, unless its warning is Extreme (see `deferrable`).
DEFERRABLE = frozenset(
    {
        M.PLANNED_NOTICE,
        M.PLANNED_REMINDER,
        M.PLANNED_CHANGED,
        M.PLANNED_CANCELLED,
        M.CANCELLED,
        M.ADVISORY,
    }
)

# A new message makes older undelivered ones of these kinds wrong: a stale ETR must not reach
# anyone after a newer one, or after the power is back.
_NEWS_OF_A_LIVE_OUTAGE = frozenset({M.ETR_UPDATE, M.ETR_MISSED, M.REASSURANCE})
SUPERSEDES: dict[MessageKind, frozenset[MessageKind]] = {
    M.ETR_UPDATE: _NEWS_OF_A_LIVE_OUTAGE,
    M.ETR_MISSED: _NEWS_OF_A_LIVE_OUTAGE,
    M.REASSURANCE: frozenset({M.REASSURANCE}),
    M.RESTORED: _NEWS_OF_A_LIVE_OUTAGE,
    M.PLANNED_CHANGED: frozenset({M.PLANNED_CHANGED, M.PLANNED_REMINDER}),
    M.PLANNED_REMINDER: frozenset({M.PLANNED_REMINDER}),
    M.PLANNED_DONE: frozenset({M.PLANNED_CHANGED, M.PLANNED_REMINDER}),
    M.PLANNED_CANCELLED: frozenset({M.PLANNED_NOTICE, M.PLANNED_CHANGED, M.PLANNED_REMINDER}),
    M.CANCELLED: _NEWS_OF_A_LIVE_OUTAGE,
    M.ADVISORY: frozenset({M.ADVISORY}),  # a raised warning replaces the one not yet sent
}

# Messages that open an episode (the customer is now "told"), and those that close one.
OPENING = frozenset({M.OUTAGE, M.PLANNED_NOTICE, M.ADVISORY})
CLOSING = frozenset({M.RESTORED, M.CANCELLED, M.PLANNED_DONE, M.PLANNED_CANCELLED})
# Withdrawals: sent only on channels where something about the incident went out.
WITHDRAWALS = frozenset({M.CANCELLED, M.PLANNED_CANCELLED})
# What time alone can call for (with a Lifecycle given to decide).
TIMELY = frozenset({M.ETR_MISSED, M.REASSURANCE, M.PLANNED_REMINDER, M.COMPENSATION})
# What the decision table can answer.
DECIDED = OPENING | CLOSING | {M.ETR_UPDATE, M.PLANNED_CHANGED} | TIMELY
# Planned work is recalled the day before it starts, at this local hour.
REMINDER_HOUR = time(18, 0)


@dataclass(frozen=True)
class CustomerState:
    """One customer's relation to one incident, before this change."""

    affected_now: bool
    affected_before: bool = False
    told: bool = False  # told of the outage (or planned work) in the current episode
    told_etr: datetime | None = None  # the ETR (planned: end) named in their last message
    told_starts_at: datetime | None = None
    last_told_at: datetime | None = None  # their last message about the incident
    reminded: bool = False  # planned work: the reminder was sent
    compensation_percent: int | None = None  # the standard-compensation band reached
    compensation_told: bool = False
    told_severity: str | None = None  # a warning: the severity their last advisory named


@dataclass(frozen=True)
class Lifecycle:
    """The time-driven rules' settings (CONTRACT.md rule 10). Without one, decide answers
    only what the incident's own changes call for."""

    etr_grace: timedelta  # ETR_GRACE_MINUTES
    reassure_after: timedelta  # REASSURE_HOURS
    zone: ZoneInfo  # the local day and hour of planned-work reminders


def decide(
    incident: IncidentValue,
    customer: CustomerState,
    *,
    etr_threshold: timedelta,
    now: datetime,
    lifecycle: Lifecycle | None = None,
) -> MessageKind | None:
    """The one message (if any) this customer should get now."""
    if incident.kind == IncidentKind.WARNING:
        return _advisory(incident, customer, now)
    if incident.terminal:
        return _closing_kind(incident, customer, now)
    if not customer.affected_now:
        return _closing_kind(incident, customer, now) if customer.affected_before else None
    planned = incident.kind == IncidentKind.PLANNED
    if not customer.told:
        if not incident.confirmed:
            return None  # perhaps a momentary cut: nobody is told before it is confirmed
        return M.PLANNED_NOTICE if planned else M.OUTAGE
    if planned:
        if _schedule_moved(incident, customer, etr_threshold):
            return M.PLANNED_CHANGED
        if lifecycle is not None and _reminder_due(incident, customer, lifecycle, now):
            return M.PLANNED_REMINDER
        return None
    # An estimate that has passed is no estimate (a feed may send one): never told as a time.
    ahead = incident.etr if incident.etr is not None and incident.etr > now else None
    if _etr_moved(ahead, customer.told_etr, etr_threshold):
        return M.ETR_UPDATE
    if lifecycle is None:
        return None
    return _timely_outage_news(incident, customer, lifecycle, now)


def _advisory(
    incident: IncidentValue, customer: CustomerState, now: datetime
) -> MessageKind | None:
    """A warning is told once to each exposed customer, and again only when it is raised
    above the severity they heard. Its end (cancelled, expired, area shrunk) says nothing:
    what was not sent yet is withdrawn instead (planning/service.py)."""
    if incident.terminal or not customer.affected_now or not incident.confirmed:
        return None
    if incident.ends_at is not None and now >= incident.ends_at:
        return None  # expired: too late to warn of anything
    if not customer.told:
        return M.ADVISORY
    if severity_rank(incident.severity) > severity_rank(customer.told_severity):
        return M.ADVISORY
    return None


def deferrable(kind: MessageKind, incident: IncidentValue) -> bool:
    """May quiet hours hold this message until morning? Not news of a live outage, and not
    an advisory of an Extreme warning."""
    if kind is M.ADVISORY and incident.severity == "Extreme":
        return False
    return kind in DEFERRABLE


def _timely_outage_news(
    incident: IncidentValue, customer: CustomerState, lifecycle: Lifecycle, now: datetime
) -> MessageKind | None:
    """Customers are never left with a time in the past, nor long without news."""
    told_etr = customer.told_etr
    if told_etr is not None and now >= told_etr + lifecycle.etr_grace:
        # "It is taking longer than estimated", naming the new estimate when one has come
        # that was not news by itself (within ETR_CHANGE_MINUTES of theirs, which has passed).
        return M.ETR_MISSED
    if customer.compensation_percent is not None and not customer.compensation_told:
        return M.COMPENSATION  # once, when the outage reaches the first band
    last = customer.last_told_at
    if last is not None and now >= last + lifecycle.reassure_after:
        return M.REASSURANCE
    return None


def reminder_at(starts_at: datetime, zone: ZoneInfo) -> datetime:
    """When planned work is recalled: at REMINDER_HOUR, local time, the day before it."""
    day_before = starts_at.astimezone(zone).date() - timedelta(days=1)
    return datetime.combine(day_before, REMINDER_HOUR, tzinfo=zone).astimezone(starts_at.tzinfo)


# Told of the work (a notice or a change) this little before the reminder's hour, or later,
# a customer has just heard it: no reminder.
RECENTLY_TOLD = timedelta(hours=6)


def _reminder_due(
    incident: IncidentValue, customer: CustomerState, lifecycle: Lifecycle, now: datetime
) -> bool:
    """Once, from the evening before until the work starts; not for someone who heard of it
    shortly before that evening or since."""
    if customer.reminded or incident.starts_at is None or now >= incident.starts_at:
        return False
    due = reminder_at(incident.starts_at, lifecycle.zone)
    last = customer.last_told_at
    recently_told = last is not None and last >= due - RECENTLY_TOLD
    return now >= due and not recently_told


def _closing_kind(
    incident: IncidentValue, customer: CustomerState, now: datetime
) -> MessageKind | None:
    """Told of it and now out of it: power is back, or the work will not happen after all."""
    if not customer.told:
        return None
    if incident.kind != IncidentKind.PLANNED:
        return M.CANCELLED if incident.status == Status.CANCELLED else M.RESTORED
    if incident.status == Status.CANCELLED:
        return M.PLANNED_CANCELLED
    not_begun = incident.starts_at is None or incident.starts_at > now
    if not_begun and incident.status != Status.RESTORED:
        return M.PLANNED_CANCELLED  # left out of the work before it began: it will not happen
    return M.PLANNED_DONE


def _etr_moved(etr: datetime | None, told: datetime | None, threshold: timedelta) -> bool:
    if etr is None:
        return False  # an estimate withdrawn is not news; the next real one will be
    if told is None:
        return True
    moved = abs(etr - told)
    return moved > timedelta(0) and moved >= threshold


def _schedule_moved(incident: IncidentValue, customer: CustomerState, threshold: timedelta) -> bool:
    return _etr_moved(incident.starts_at, customer.told_starts_at, threshold) or _etr_moved(
        incident.ends_at, customer.told_etr, threshold
    )


# ---- channels -------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """ "22:00-07:00" (local time; may wrap past midnight)."""
        try:
            start_text, end_text = text.strip().split("-")
            start, end = (
                time.fromisoformat(start_text.strip()),
                time.fromisoformat(end_text.strip()),
            )
        except ValueError as exc:
            raise ValueError("quiet_hours must be HH:MM-HH:MM") from exc
        if start == end:
            raise ValueError("quiet_hours must not start and end at the same time")
        return cls(start, end)

    def covers(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def ends_after(self, moment: datetime, zone: ZoneInfo) -> datetime:
        """The first moment at or after `moment` (aware) outside these quiet hours."""
        local = moment.astimezone(zone)
        if not self.covers(local.time().replace(tzinfo=None)):
            return moment
        end_day = local.date()
        if self.start > self.end and local.time().replace(tzinfo=None) >= self.start:
            end_day += timedelta(days=1)
        end_local = datetime.combine(end_day, self.end, tzinfo=zone)
        return end_local.astimezone(moment.tzinfo)


@dataclass(frozen=True)
class Preferences:
    chosen: frozenset[str] | None  # None: every channel the customer has an address for
    has_phone: bool
    has_email: bool
    has_push: bool
    # Channels this customer must not be sent on, each with why ("opted_out", "erased").
    blocked: Mapping[str, str] = field(default_factory=dict)
    quiet_hours: QuietHours | None = None


@dataclass(frozen=True)
class ChannelIntent:
    channel: str
    suppressed_reason: str | None = None  # set: recorded on the timeline, never sent
    not_before: datetime | None = None  # set: held until then (quiet hours)


MISSING_ADDRESS = {
    "sms": "no phone number",
    "email": "no email address",
    "push": "no push subscription",
}


EXPIRES_IN_QUIET_HOURS = "the warning expires before the customer's quiet hours end"


def channel_plan(
    kind: MessageKind,
    prefs: Preferences,
    *,
    now: datetime,
    zone: ZoneInfo,
    deferrable: bool | None = None,
    expires: datetime | None = None,
) -> list[ChannelIntent]:
    """Every channel this message goes to, or is recorded as not going to, and why.
    deferrable: may quiet hours hold it (default: its kind says). expires: after this the
    message is pointless (a warning's expiry); held past it, it is not sent at all."""
    not_before = None
    may_wait = kind in DEFERRABLE if deferrable is None else deferrable
    if may_wait and prefs.quiet_hours is not None:
        release = prefs.quiet_hours.ends_after(now, zone)
        not_before = release if release > now else None
    intents = [_channel_intent(ch, prefs, not_before) for ch in _channels_for(prefs)]
    if expires is not None and not_before is not None and not_before >= expires:
        intents = [_too_late(intent) for intent in intents]
    intents.append(ChannelIntent("in_app"))
    return intents


def _too_late(intent: ChannelIntent) -> ChannelIntent:
    if intent.suppressed_reason:
        return intent
    return ChannelIntent(intent.channel, suppressed_reason=EXPIRES_IN_QUIET_HOURS)


def _channels_for(prefs: Preferences) -> list[str]:
    if prefs.chosen is not None:
        return [ch for ch in CHANNELS if ch in prefs.chosen]
    return [ch for ch in CHANNELS if _has_address(ch, prefs)]


def _channel_intent(channel: str, prefs: Preferences, not_before: datetime | None) -> ChannelIntent:
    if not _has_address(channel, prefs):
        return ChannelIntent(channel, suppressed_reason=MISSING_ADDRESS[channel])
    if channel in prefs.blocked:
        return ChannelIntent(channel, suppressed_reason=prefs.blocked[channel])
    return ChannelIntent(channel, not_before=not_before)


def _has_address(channel: str, prefs: Preferences) -> bool:
    return {"sms": prefs.has_phone, "email": prefs.has_email, "push": prefs.has_push}[channel]


def dedup_key(*, incident_id: str, customer_pk: int, kind: str, version: int, channel: str) -> str:
    """One message per (incident, customer, kind, incident version, channel), ever."""
    return f"{incident_id}:{customer_pk}:{kind}:{version}:{channel}"
