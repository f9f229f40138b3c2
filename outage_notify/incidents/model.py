"""The incident vocabulary, defined once: kinds of incident, their statuses, and the kinds of
message a customer can be sent (contract rule 0). Pure: no database, no web.

An outage, planned work and a weather warning are incidents of a kind with one lifecycle;
matching, planning and the timeline treat them alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from outage_notify.timeutil import iso


class IncidentKind(StrEnum):
    UNPLANNED = "unplanned"  # an outage
    PLANNED = "planned"  # maintenance: starts_at / ends_at, customers told ahead
    # A weather warning from a CAP feed: its exposed customers get an advisory. starts_at is
    # its onset, ends_at its expiry; it has a severity.
    WARNING = "warning"


class Status(StrEnum):
    DETECTED = "detected"
    CREW_ASSIGNED = "crew_assigned"
    IN_PROGRESS = "in_progress"
    RESTORED = "restored"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # a warning past its expiry


ACTIVE_STATUSES = frozenset({Status.DETECTED, Status.CREW_ASSIGNED, Status.IN_PROGRESS})
TERMINAL_STATUSES = frozenset({Status.RESTORED, Status.CANCELLED, Status.EXPIRED})
# What an operator may state: warnings come only from CAP feeds, and only warnings expire.
OPERATOR_KINDS = (IncidentKind.UNPLANNED, IncidentKind.PLANNED)
OPERATOR_STATUSES = tuple(status for status in Status if status is not Status.EXPIRED)
# CAP's severities, least first (a warning's `severity`).
SEVERITIES = ("Minor", "Moderate", "Severe", "Extreme")


def severity_rank(severity: str | None) -> int:
    """Higher is more severe; Unknown or none ranks below Minor."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


class MessageKind(StrEnum):
    """What a message is about, as the timeline names it."""

    OUTAGE = "outage"
    ETR_UPDATE = "etr_update"
    ETR_MISSED = "etr_missed"
    REASSURANCE = "reassurance"
    RESTORED = "restored"
    CANCELLED = "cancelled"
    COMPENSATION = "compensation"
    ADVISORY = "advisory"
    PLANNED_NOTICE = "planned_notice"
    PLANNED_REMINDER = "planned_reminder"
    PLANNED_CHANGED = "planned_changed"
    PLANNED_CANCELLED = "planned_cancelled"
    PLANNED_DONE = "planned_done"


# Operator text for customers: plain, or (language, text) pairs sorted by language.
Message = str | tuple[tuple[str, str], ...] | None


@dataclass(frozen=True)
class IncidentValue:
    """An incident as it stands at one version, the same from every source: what ingest
    validates, what changes are read from, what the decision table and the templates read.
    Immutable and hashable (renders are cached on it): grid ids are sorted tuples, a message
    by language is sorted pairs; the area (GeoJSON) takes part in equality, not in the hash."""

    external_id: str
    kind: str
    status: str
    cause: str | None = None
    message: Message = None
    area: dict[str, Any] | None = field(default=None, hash=False)
    feeders: tuple[str, ...] = ()
    transformers: tuple[str, ...] = ()
    etr: datetime | None = None
    starts_at: datetime | None = None  # planned work
    ends_at: datetime | None = None
    started_at: datetime | None = None  # when the outage began (None: when first reported)
    severity: str | None = None  # a warning's CAP severity
    # May customers be told? Not yet for an outage from a feed younger than CONFIRM_SECONDS.
    # State the service keeps, not something a source sends: no part of equality or change.
    confirmed: bool = field(default=True, compare=False)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def planned(self) -> bool:
        return self.kind == IncidentKind.PLANNED

    @property
    def warning(self) -> bool:
        return self.kind == IncidentKind.WARNING

    @property
    def message_json(self) -> str | dict[str, str] | None:
        """The message as it is stored and shown: text, or {language: text}."""
        return dict(self.message) if isinstance(self.message, tuple) else self.message


def frozen_message(message: str | Mapping[str, str] | None) -> Message:
    if message is None or isinstance(message, str):
        return message
    return tuple(sorted(message.items())) or None


def grid_ids(ids: Iterable[str]) -> tuple[str, ...]:
    """Feeder or transformer ids as a value holds them: each once, sorted."""
    return tuple(sorted(set(ids)))


def describe(value: IncidentValue, *, extent: bool) -> dict[str, Any]:
    """The incident as JSON data (times ISO 8601 UTC). Without the extent (area, grid ids)
    for records kept per customer, where a storm's polygon must not be copied 500,000 times."""
    data: dict[str, Any] = {
        "external_id": value.external_id,
        "kind": value.kind,
        "status": value.status,
        "cause": value.cause,
        "message": value.message_json,
        "etr": iso(value.etr),
        "starts_at": iso(value.starts_at),
        "ends_at": iso(value.ends_at),
        "started_at": iso(value.started_at),
        "severity": value.severity,
    }
    if extent:
        data.update(
            area=value.area, feeders=list(value.feeders), transformers=list(value.transformers)
        )
    return data


def value_of(row: Any) -> IncidentValue:
    """The value of an incident as stored (the ORM row, or anything with its attributes)."""
    return IncidentValue(
        external_id=row.external_id,
        kind=row.kind,
        status=row.status,
        cause=row.cause,
        message=frozen_message(row.message),
        area=row.area,
        feeders=grid_ids(row.feeders or ()),
        transformers=grid_ids(row.transformers or ()),
        etr=row.etr,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        started_at=row.started_at,
        severity=row.severity,
        confirmed=row.confirmed_at is not None,
    )
