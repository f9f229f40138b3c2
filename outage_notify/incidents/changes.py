"""(previous, new) incident state → the changes it means. Pure: no database, no web."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from outage_notify.incidents.model import IncidentValue


class Change(StrEnum):
    NEW = "NEW"
    ETR_CHANGED = "ETR_CHANGED"
    STATUS_CHANGED = "STATUS_CHANGED"
    SCHEDULE_CHANGED = "SCHEDULE_CHANGED"
    DETAILS_CHANGED = "DETAILS_CHANGED"
    AREA_CHANGED = "AREA_CHANGED"
    AREA_GREW = "AREA_GREW"
    AREA_SHRANK = "AREA_SHRANK"
    # The extent is the same but the customers under it are not (customer data changed).
    CUSTOMERS_CHANGED = "CUSTOMERS_CHANGED"
    # An outage from a feed has lasted CONFIRM_SECONDS: its customers may now be told.
    CONFIRMED = "CONFIRMED"
    # Time made something due for customers told of the incident (rule 10): their ETR passed
    # ETR_GRACE_MINUTES ago, REASSURE_HOURS went by without news, planned work is tomorrow.
    ETR_MISSED = "ETR_MISSED"
    SILENCE = "SILENCE"
    REMINDER_DUE = "REMINDER_DUE"
    COMPENSATION_DUE = "COMPENSATION_DUE"  # a told customer's outage reached the first band
    # A weather warning's severity moved (up: its exposed customers hear of it again).
    SEVERITY_CHANGED = "SEVERITY_CHANGED"
    RESTORED = "RESTORED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"  # a weather warning reached its expiry


def detect(
    previous: IncidentValue | None,
    new: IncidentValue,
    *,
    gained: int = 0,
    lost: int = 0,
) -> list[Change]:
    """The changes from previous to new; gained/lost count the customers the new extent adds
    and leaves out. An empty list means nothing worth a revision happened."""
    if previous is None:
        return [Change.NEW, *_terminal(new)]
    changes: list[Change] = []
    if new.etr != previous.etr:
        changes.append(Change.ETR_CHANGED)
    if new.status != previous.status:
        changes.append(Change.STATUS_CHANGED)
        changes.extend(_terminal(new))
    if (new.starts_at, new.ends_at) != (previous.starts_at, previous.ends_at):
        changes.append(Change.SCHEDULE_CHANGED)
    if new.severity != previous.severity:
        changes.append(Change.SEVERITY_CHANGED)
    if (new.cause, new.message) != (previous.cause, previous.message):
        changes.append(Change.DETAILS_CHANGED)
    if _extent(new) != _extent(previous):
        changes.append(Change.AREA_CHANGED)
    if gained:
        changes.append(Change.AREA_GREW)
    if lost and not new.terminal:
        changes.append(Change.AREA_SHRANK)
    return changes


def _terminal(state: IncidentValue) -> list[Change]:
    if state.status == "restored":
        return [Change.RESTORED]
    if state.status == "cancelled":
        return [Change.CANCELLED]
    if state.status == "expired":
        return [Change.EXPIRED]
    return []


def _extent(state: IncidentValue) -> tuple[Any, tuple[str, ...], tuple[str, ...]]:
    return state.area, state.feeders, state.transformers
