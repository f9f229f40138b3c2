"""The per-customer event log that the agent reads: written only through timeline.log_event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from outage_notify.db.models.base import Base
from outage_notify.db.types import UTCDateTime


class TimelineEvent(Base):
    __tablename__ = "timeline_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_pk: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    type: Mapped[str] = mapped_column(String(30))
    incident_id: Mapped[str | None] = mapped_column(String(40))
    notification_id: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str | None] = mapped_column(String(10))
    kind: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str | None] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(String(500))
    body: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_timeline_customer_at", "customer_pk", "at", "id"),)
