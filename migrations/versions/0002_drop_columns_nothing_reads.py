"""Drop two columns nothing reads.

incident_customers.told_restored duplicated told_version (NULL once an episode is closed);
notifications.read_at was never written.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 10:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import outage_notify.db.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incident_customers", schema=None) as batch_op:
        batch_op.drop_column("told_restored")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("read_at")


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("read_at", outage_notify.db.types.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("incident_customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("told_restored", sa.Boolean(), nullable=False, server_default=sa.false())
        )
