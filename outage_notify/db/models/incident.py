"""An incident: one outage (or planned work) per (source, external id), with its revisions and
the customers it touches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from outage_notify.db.models.base import Base
from outage_notify.db.types import UTCDateTime


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    cause: Mapped[str | None] = mapped_column(String(300))
    # Plain text, or {"fi": ..., "sv": ..., "en": ...}
    message: Mapped[str | dict[str, str] | None] = mapped_column(JSON)
    area: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    feeders: Mapped[list[str]] = mapped_column(JSON, default=list)
    transformers: Mapped[list[str]] = mapped_column(JSON, default=list)
    etr: Mapped[datetime | None] = mapped_column(UTCDateTime)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer)
    affected_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When customers may be told of it. An operator's post is its own confirmation; an
    # unplanned outage from a feed is confirmed once it has lasted CONFIRM_SECONDS (a momentary
    # cut that ends sooner is never told). NULL: not (yet) confirmed.
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A weather warning's CAP severity (Minor, Moderate, Severe, Extreme); NULL otherwise.
    severity: Mapped[str | None] = mapped_column(String(10))

    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_incidents_status_updated", "status", "updated_at"),
    )


class IncidentRevision(Base):
    """Every observed change of an incident, with the changes it was read as."""

    __tablename__ = "incident_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    changes: Mapped[list[str]] = mapped_column(JSON)
    # Who or what made it: "apikey:<name>", "feed:<url>", "rule:<name>".
    actor: Mapped[str] = mapped_column(String(300), default="unknown")
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("incident_id", "version"),)


class IncidentCustomer(Base):
    """Who an incident touches, and what each of them has been told of it.

    Rows stay after a customer is released (area shrank, restored) so that a customer is told
    of the restoration only if told of the outage, and the ETR rule compares against what this
    customer heard last."""

    __tablename__ = "incident_customers"

    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    customer_pk: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    affected: Mapped[bool] = mapped_column(Boolean)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Incident version whose outage message told this customer; NULL while never told.
    told_version: Mapped[int | None] = mapped_column(Integer)
    # The ETR named in the last message this customer was sent (NULL: none was named).
    told_etr: Mapped[datetime | None] = mapped_column(UTCDateTime)
    told_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # planned work
    # The incident version this customer was last planned for (NULL: never, or their tie moved
    # since), and whether they were affected then: a planning chunk takes the ties whose
    # planned version is behind, and reads what moved from `affected` against this.
    planned_version: Mapped[int | None] = mapped_column(Integer)
    planned_affected: Mapped[bool] = mapped_column(Boolean, default=False)
    # When this customer was last sent anything about the incident (reassurance follows a
    # silence of REASSURE_HOURS), and when they were reminded of planned work (once).
    last_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Standard compensation (percent of the annual network fee): the band this customer's
    # outage has reached (the due-rules sweep keeps it current), and the band they were told.
    compensation_percent: Mapped[int | None] = mapped_column(Integer)
    compensation_told: Mapped[int | None] = mapped_column(Integer)
    # A weather warning: the severity named in the last advisory this customer was sent (a
    # warning raised above it sends a new one).
    told_severity: Mapped[str | None] = mapped_column(String(10))
