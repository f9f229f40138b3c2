"""Polled feeds: what each one said last, what it is saying now, and what was refused.

A feed (one entry of OUTAGE_FEEDS, later CAP_FEEDS) keeps its HTTP validators for the next
conditional GET, its health (consecutive failures, when it last answered: a feed that stopped
answering is stale, and a stale feed never restores anything), and one row per outage it
reports, so that each poll is compared with the last and an outage is restored only after it
has been missing for RESTORE_AFTER_POLLS polls in a row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from outage_notify.db.models.base import Base
from outage_notify.db.types import UTCDateTime


class Feed(Base):
    __tablename__ = "feeds"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # derived from the spec
    spec: Mapped[str] = mapped_column(Text)  # as configured: URL, or FORMAT+URL
    etag: Mapped[str | None] = mapped_column(String(300))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    polls: Mapped[int] = mapped_column(Integer, default=0)  # polls that were read
    failures: Mapped[int] = mapped_column(Integer, default=0)  # in a row, since the last read
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # backoff
    last_error: Mapped[str | None] = mapped_column(Text)
    items: Mapped[int] = mapped_column(Integer, default=0)  # outages in the last snapshot
    rejected: Mapped[int] = mapped_column(Integer, default=0)  # refused items in it


class FeedItem(Base):
    """One outage a feed reports (or reported): the incident it became and whether the feed
    still lists it."""

    __tablename__ = "feed_items"

    feed_id: Mapped[str] = mapped_column(
        ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True
    )
    external_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    # Digest of the item as last read: an unchanged item is not looked at again.
    fingerprint: Mapped[str] = mapped_column(String(64))
    absent_polls: Mapped[int] = mapped_column(Integer, default=0)
    first_absent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    customers_affected: Mapped[int | None] = mapped_column(Integer)  # as the feed says
    crew_status: Mapped[str | None] = mapped_column(String(300))


class IngestLogEntry(Base):
    """What a feed sent that was refused or repaired, and why: for operators (API)."""

    __tablename__ = "ingest_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[str] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    item: Mapped[str | None] = mapped_column(String(200))  # None: the whole poll
    outcome: Mapped[str] = mapped_column(String(12))  # rejected | failed | overdue
    reason: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_ingest_log_feed_at", "feed_id", "at"),)


class WeatherWarning(Base):
    """One CAP alert from CAP_FEEDS, as received (an Update or a Cancel is a row of its own
    that references earlier ones), with what became of it: state active, cancelled, expired
    (read as such once past its expiry), filtered or rejected, and why."""

    __tablename__ = "warnings"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    feed_id: Mapped[str | None] = mapped_column(ForeignKey("feeds.id", ondelete="SET NULL"))
    source_url: Mapped[str | None] = mapped_column(Text, index=True)  # the CAP document
    sender: Mapped[str] = mapped_column(String(300))
    identifier: Mapped[str] = mapped_column(String(300))
    sent: Mapped[datetime] = mapped_column(UTCDateTime)
    msg_type: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(Text)
    event: Mapped[str | None] = mapped_column(String(300))
    severity: Mapped[str | None] = mapped_column(String(10))
    urgency: Mapped[str | None] = mapped_column(String(12))
    onset: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires: Mapped[datetime | None] = mapped_column(UTCDateTime)
    headline: Mapped[dict[str, str] | None] = mapped_column(JSON)  # by language
    area: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # GeoJSON, lon/lat
    references: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    superseded_by: Mapped[str | None] = mapped_column(String(40))  # a later Update's id
    # The incident (kind `warning`) this alert and its Updates and Cancel are about; NULL when
    # it was filtered or rejected before any of its chain was active.
    incident_id: Mapped[str | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("sender", "identifier", "sent"),
        Index("ix_warnings_state_received", "state", "received_at"),
    )


class FeederLine(Base):
    """Where a feeder runs (`outage-notify grid import`): a customer whose feeder crosses a
    weather warning's area is exposed to it even when their own point is outside."""

    __tablename__ = "feeder_lines"

    feeder: Mapped[str] = mapped_column(String(64), primary_key=True)
    geometry: Mapped[dict[str, Any]] = mapped_column(JSON)  # GeoJSON (Multi)LineString, lon/lat
    name: Mapped[str | None] = mapped_column(String(200))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
