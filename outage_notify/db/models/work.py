"""Work that must happen later, kept in the database so that a restart loses none of it and
any process can do it: an incident's planning job, and the leases that make exactly one
process run the clock's sweeps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from outage_notify.db.models.base import Base
from outage_notify.db.types import UTCDateTime


class PlanningJob(Base):
    """One per incident: plan its customers up to `version`, the incident's latest. A revision
    that arrives while an earlier one is still being planned only raises `version`, so
    customers are planned for the latest state, never for each one in between."""

    __tablename__ = "planning_jobs"

    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    # The incident version to reach; the version the ties (incident_customers) were last
    # matched for; ties planned before `review_from` must all be decided again (the ETR, the
    # schedule or the status moved for everyone).
    version: Mapped[int] = mapped_column(Integer)
    matched_version: Mapped[int] = mapped_column(Integer, default=0)
    review_from: Mapped[int] = mapped_column(Integer, default=0)
    # Customer primary key up to which this pass has planned (chunks go in key order).
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(10))  # pending | done
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_planning_jobs_state_updated", "state", "updated_at"),)


class Lease(Base):
    """A named lease: whoever holds it (until it expires) may do what it guards. The clock's
    lease makes one process per deployment run the sweeps; a dead holder's lease runs out and
    another process takes it."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    owner: Mapped[str] = mapped_column(String(80))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobRun(Base):
    """The last run of each scheduled job, for operators (and /readyz): when, how it ended."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_owner: Mapped[str | None] = mapped_column(String(80))
    last_result: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)


class SendPace(Base):
    """A sender's next free send slot (seconds since the epoch), shared by every worker so
    that a provider's per-sender rate (Twilio: messages per second per number) holds for the
    deployment, not per process."""

    __tablename__ = "send_pace"

    sender: Mapped[str] = mapped_column(String(100), primary_key=True)
    next_slot: Mapped[float] = mapped_column(Float)
