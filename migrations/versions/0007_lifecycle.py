"""The lifecycle's per-customer state and priority customers.

incident_customers.last_told_at: when this customer was last sent anything about the incident
(reassurance comes after REASSURE_HOURS of silence); reminded_at: when they were reminded of
planned work (once). customers.priority: life_support or critical_facility.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from outage_notify.db.types import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incident_customers") as batch:
        batch.add_column(sa.Column("last_told_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("reminded_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("priority", sa.String(length=20), nullable=True))
    op.create_index("ix_customers_priority", "customers", ["priority"])


def downgrade() -> None:
    op.drop_index("ix_customers_priority", table_name="customers")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("priority")
    with op.batch_alter_table("incident_customers") as batch:
        batch.drop_column("reminded_at")
        batch.drop_column("last_told_at")
