"""A notification is one message to one customer on one channel; the outbox row is its place
in the delivery queue. Both are written in the transaction of the change that caused them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from outage_notify.db.models.base import Base
from outage_notify.db.types import UTCDateTime


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_pk: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    incident_id: Mapped[str | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(20))
    # (incident, customer, kind, version, channel): the database refuses a second copy.
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    language: Mapped[str] = mapped_column(String(2))
    to_address: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(String(500))
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_ref: Mapped[str | None] = mapped_column(String(100), index=True)
    sms_segments: Mapped[int | None] = mapped_column(Integer)
    sms_encoding: Mapped[str | None] = mapped_column(String(8))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    possible_duplicate: Mapped[bool] = mapped_column(Boolean, default=False)
    fallback_of: Mapped[int | None] = mapped_column(Integer)
    # What the text was rendered from ({"version": incident version, "later": ETR direction}),
    # so a fallback on another channel says the same thing.
    render_args: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_notifications_customer_created", "customer_pk", "created_at"),
        Index("ix_notifications_provider_created", "provider", "created_at"),
    )


class OutboxItem(Base):
    """A notification waiting to be delivered. Deleted once its notification reaches a final
    state, so the table stays as small as the backlog."""

    __tablename__ = "outbox"

    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    )
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when a worker hands the message to a provider, cleared when the answer is written.
    # Still set when a claim is taken over: the send may have happened, so mark a duplicate risk.
    in_flight_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
