"""Standard compensation per customer: the band their outage has reached, and the band they
were told of.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 15:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incident_customers") as batch:
        batch.add_column(sa.Column("compensation_percent", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("compensation_told", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incident_customers") as batch:
        batch.drop_column("compensation_told")
        batch.drop_column("compensation_percent")
