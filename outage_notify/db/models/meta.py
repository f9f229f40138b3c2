from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from outage_notify.db.models.base import Base


class AppMeta(Base):
    """Small named values the deployment keeps: the generated link secret, the customers'
    revision (bumped on every change so each process knows its spatial index is stale)."""

    __tablename__ = "app_meta"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
