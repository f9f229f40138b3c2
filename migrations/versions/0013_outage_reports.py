"""Outage reports from customers (the public map's form; later SMS and the agent desk): where,
when, from which source, and the incident an operator tied it to, for the operator console's
map and its proposed clusters.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from outage_notify.db.types import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outage_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("customer_pk", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("incident_id", sa.String(length=40), nullable=True),
        sa.CheckConstraint(
            "source IN ('web', 'sms', 'agent')", name=op.f("ck_outage_reports_source")
        ),
        sa.ForeignKeyConstraint(
            ["customer_pk"],
            ["customers.id"],
            name=op.f("fk_outage_reports_customer_pk_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_outage_reports_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outage_reports")),
    )
    op.create_index("ix_outage_reports_at", "outage_reports", ["at"])


def downgrade() -> None:
    op.drop_index("ix_outage_reports_at", table_name="outage_reports")
    op.drop_table("outage_reports")
