"""Weather warnings become incidents of kind `warning`: the warning row names its incident,
an incident keeps its CAP severity, each customer the severity they were told; feeder lines
(grid-aware exposure: a customer whose feeder crosses a warning's area is exposed).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from outage_notify.db.types import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("severity", sa.String(length=10), nullable=True))
    with op.batch_alter_table("incident_customers") as batch:
        batch.add_column(sa.Column("told_severity", sa.String(length=10), nullable=True))
    with op.batch_alter_table("warnings") as batch:
        batch.add_column(sa.Column("incident_id", sa.String(length=40), nullable=True))
        batch.create_foreign_key(
            op.f("fk_warnings_incident_id_incidents"),
            "incidents",
            ["incident_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(op.f("ix_warnings_incident_id"), ["incident_id"])
    op.create_table(
        "feeder_lines",
        sa.Column("feeder", sa.String(length=64), nullable=False),
        sa.Column("geometry", sa.JSON(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("imported_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("feeder", name=op.f("pk_feeder_lines")),
    )


def downgrade() -> None:
    op.drop_table("feeder_lines")
    with op.batch_alter_table("warnings") as batch:
        batch.drop_index(op.f("ix_warnings_incident_id"))
        batch.drop_constraint(op.f("fk_warnings_incident_id_incidents"), type_="foreignkey")
        batch.drop_column("incident_id")
    with op.batch_alter_table("incident_customers") as batch:
        batch.drop_column("told_severity")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("severity")
