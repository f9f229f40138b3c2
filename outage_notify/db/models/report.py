"""Outage reports from customers (migration 0013): the public map's form ('web'); the table
also takes 'sms' and 'agent' for the other ways a report comes in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from outage_notify.db.models.base import Base
from outage_notify.db.types import UTCDateTime

REPORT_SOURCES = ("web", "sms", "agent")


class OutageReport(Base):
    __tablename__ = "outage_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    customer_pk: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(10))
    text: Mapped[str | None] = mapped_column(Text)
    incident_id: Mapped[str | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))

    __table_args__ = (
        CheckConstraint("source IN ('web', 'sms', 'agent')", name="source"),
        Index("ix_outage_reports_at", "at"),
    )
