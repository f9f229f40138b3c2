"""A customer is one service location: the point that outages are matched against."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from outage_notify.db.models.base import Base
from outage_notify.db.types import UTCDateTime


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(2))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    # ";"-separated subset of sms;email;push; NULL means every channel it has an address for.
    channels: Mapped[str | None] = mapped_column(String(40))
    feeder: Mapped[str | None] = mapped_column(String(64), index=True)
    transformer: Mapped[str | None] = mapped_column(String(64), index=True)
    quiet_hours: Mapped[str | None] = mapped_column(String(11))
    # life_support or critical_facility: planned and sent first, told of planned work
    # earlier, and listed for operators per incident so that someone can call them.
    priority: Mapped[str | None] = mapped_column(String(20), index=True)
    # Customer links made at or before this moment no longer open anything (agent's revoke).
    links_revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    push_subscriptions: Mapped[list[PushSubscription]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", passive_deletes=True
    )


class PushSubscription(Base):
    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_pk: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    endpoint: Mapped[str] = mapped_column(Text)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    customer: Mapped[Customer] = relationship(back_populates="push_subscriptions")

    __table_args__ = (UniqueConstraint("customer_pk", "endpoint"),)


class OptOut(Base):
    """A channel address that said STOP. Keyed by a hash of the address, not by the customer:
    the opt-out belongs to the phone (every customer with that number), and holds no personal
    data. The hash is an HMAC under the deployment's secret (customers/contacts.py)."""

    __tablename__ = "opt_outs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    address_hash: Mapped[str] = mapped_column(String(64))
    # "hmac"; "sha256" for rows made before keyed hashes, re-keyed as their address is seen.
    scheme: Mapped[str] = mapped_column(String(8), default="hmac")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("channel", "address_hash"),)


class Erasure(Base):
    """What is left of an erased customer: keyed hashes of their id and of one of their
    contacts. If the utility sends that customer again, that contact is not messaged; another
    customer who shares the phone or email is not concerned."""

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_hash: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(10))
    address_hash: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("customer_hash", "channel", "address_hash"),)
