"""Preferences changed by an agent on the customer's behalf (the customer asked on the phone):
channels, quiet hours, language, with the reason recorded. The new values are checked first
(`checked_preferences`, pure), then the customer is updated and the change logged on their
timeline as PREFERENCE_CHANGED with who, why and each field's old and new value. Never
commits."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from outage_notify.config import LANGUAGES
from outage_notify.db.models import Customer
from outage_notify.errors import ActionRefused
from outage_notify.ingest.text import has_control
from outage_notify.planning.rules import CHANNELS, QuietHours
from outage_notify.timeline import service as timeline

MAX_REASON = 500
SPOKEN_HOURS = re.compile(r"^\s*(\d{1,2})(?::(\d\d))?\s*[-–]\s*(\d{1,2})(?::(\d\d))?\s*$")


@dataclass(frozen=True)
class Preferences:
    channels: str | None  # ";"-separated, in CHANNELS order; None: every channel with an address
    quiet_hours: str | None  # "HH:MM-HH:MM"
    language: str


def checked_preferences(
    *,
    channels: Iterable[str],
    quiet_hours: str,
    language: str,
    phone: str | None,
    email: str | None,
) -> Preferences:
    """The preferences as they will be stored, or ActionRefused saying what is wrong."""
    chosen = {c.strip().lower() for c in channels if c.strip()}
    unknown = chosen - set(CHANNELS)
    if unknown:
        raise ActionRefused(
            f"unknown channel {', '.join(sorted(unknown))}: choose from {', '.join(CHANNELS)}",
            code="channel_unknown",
        )
    if not chosen:
        raise ActionRefused("choose at least one channel", code="channels_empty")
    for channel, address in (("sms", phone), ("email", email)):
        if channel in chosen and not address:
            raise ActionRefused(
                f"the customer has no address for {channel}: it cannot be chosen",
                code="channel_no_address",
                channel=channel,
            )
    if language not in LANGUAGES:
        raise ActionRefused(
            f"language must be one of {', '.join(LANGUAGES)}", code="language_unknown"
        )
    return Preferences(
        channels=";".join(c for c in CHANNELS if c in chosen),
        quiet_hours=_quiet_hours(quiet_hours),
        language=language,
    )


def _quiet_hours(text: str) -> str | None:
    if not text.strip():
        return None
    # As an agent types it while listening: "22-7", "22:00 – 7:00" are "22:00-07:00".
    spoken = SPOKEN_HOURS.match(text)
    if spoken:
        start_h, start_m, end_h, end_m = spoken.groups()
        text = f"{int(start_h):02}:{start_m or '00'}-{int(end_h):02}:{end_m or '00'}"
    try:
        hours = QuietHours.parse(text)
    except ValueError as exc:
        raise ActionRefused(
            f"{exc} (for example 22:00-07:00), or empty for none", code="quiet_hours_bad"
        ) from exc
    return f"{hours.start:%H:%M}-{hours.end:%H:%M}"


def checked_reason(reason: str) -> str:
    text = " ".join(reason.split())
    if not text:
        raise ActionRefused("give the reason for the change", code="reason_missing")
    if len(text) > MAX_REASON or has_control(text):
        raise ActionRefused(
            f"the reason must be one line of at most {MAX_REASON} characters",
            code="reason_bad",
            limit=str(MAX_REASON),
        )
    return text


def effective_channels(customer: Customer, *, has_push: bool) -> str:
    """The channels a customer with no choice recorded (channels NULL) is messaged on."""
    present = {"sms": bool(customer.phone), "email": bool(customer.email), "push": has_push}
    return ";".join(c for c in CHANNELS if present[c])


def change_preferences(
    session: Session,
    *,
    customer: Customer,
    channels: Iterable[str],
    quiet_hours: str,
    language: str,
    reason: str,
    by: str,
    has_push: bool,
    now: datetime,
) -> dict[str, list[Any]]:
    """Updates the customer; returns the changes, {field: [old, new]}. ActionRefused for a bad
    value, a missing reason, or nothing to change. has_push: the customer has a push
    subscription (their channels as shown when none is recorded include push)."""
    why = checked_reason(reason)
    wanted = checked_preferences(
        channels=channels,
        quiet_hours=quiet_hours,
        language=language,
        phone=customer.phone,
        email=customer.email,
    )
    changes = _changes(customer, wanted, has_push=has_push)
    if not changes:
        raise ActionRefused(
            "nothing to change: these are the preferences already", code="unchanged"
        )
    for field, (_, new) in changes.items():
        setattr(customer, field, new)
    customer.updated_at = now
    summary = "; ".join(
        f"{field}: {old or '–'} → {new or '–'}" for field, (old, new) in changes.items()
    )
    timeline.log_event(
        session,
        timeline.Event(
            customer_pk=customer.id,
            at=now,
            type=timeline.PREFERENCE_CHANGED,
            reason=why,
            body=summary,
            data={"by": by, "reason": why, "changes": changes},
        ),
    )
    return changes


def _changes(customer: Customer, wanted: Preferences, *, has_push: bool) -> dict[str, list[Any]]:
    changes: dict[str, list[Any]] = {}
    # No choice recorded means "every channel with an address": the same set chosen again
    # keeps it that way, so a new phone number or subscription still counts.
    shown = customer.channels or effective_channels(customer, has_push=has_push)
    if wanted.channels != shown:
        changes["channels"] = [customer.channels, wanted.channels]
    if wanted.quiet_hours != customer.quiet_hours:
        changes["quiet_hours"] = [customer.quiet_hours, wanted.quiet_hours]
    if wanted.language != customer.language:
        changes["language"] = [customer.language, wanted.language]
    return changes
