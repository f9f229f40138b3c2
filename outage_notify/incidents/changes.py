"""(previous, new) incident state → the changes it means. Pure: no database, no web."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

TERMINAL_STATUSES = frozenset({"restored", "cancelled"})
STATUSES = ("detected", "crew_assigned", "in_progress", "restored", "cancelled")
KINDS = ("unplanned", "planned")


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
    RESTORED = "RESTORED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class IncidentState:
    """What an incident says at one moment: the fields a change can be read from."""

    kind: str
    status: str
    cause: str | None
    message: str | None
    etr: datetime | None
    starts_at: datetime | None
    ends_at: datetime | None
    area: Any  # canonical GeoJSON (dict) or None
    feeders: frozenset[str]
    transformers: frozenset[str]

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


def detect(
    previous: IncidentState | None,
    new: IncidentState,
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
    if (new.cause, new.message) != (previous.cause, previous.message):
        changes.append(Change.DETAILS_CHANGED)
    if _extent(new) != _extent(previous):
        changes.append(Change.AREA_CHANGED)
    if gained:
        changes.append(Change.AREA_GREW)
    if lost and not new.terminal:
        changes.append(Change.AREA_SHRANK)
    return changes


def _terminal(state: IncidentState) -> list[Change]:
    if state.status == "restored":
        return [Change.RESTORED]
    if state.status == "cancelled":
        return [Change.CANCELLED]
    return []


def _extent(state: IncidentState) -> tuple[Any, frozenset[str], frozenset[str]]:
    return state.area, state.feeders, state.transformers
