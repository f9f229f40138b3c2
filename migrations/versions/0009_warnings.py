"""Weather warnings read from CAP_FEEDS: one row per CAP alert (sender, identifier, sent).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from outage_notify.db.types import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "warnings",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("feed_id", sa.String(length=16), nullable=True),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("sender", sa.String(length=300), nullable=False),
        sa.Column("identifier", sa.String(length=300), nullable=False),
        sa.Column("sent", UTCDateTime(), nullable=False),
        sa.Column("msg_type", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("event", sa.String(length=300), nullable=True),
        sa.Column("severity", sa.String(length=10), nullable=True),
        sa.Column("urgency", sa.String(length=12), nullable=True),
        sa.Column("onset", UTCDateTime(), nullable=True),
        sa.Column("expires", UTCDateTime(), nullable=True),
        sa.Column("headline", sa.JSON(), nullable=True),
        sa.Column("area", sa.JSON(), nullable=True),
        sa.Column("references", sa.JSON(), nullable=False),
        sa.Column("superseded_by", sa.String(length=40), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feeds.id"], name=op.f("fk_warnings_feed_id_feeds"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warnings")),
        sa.UniqueConstraint("sender", "identifier", "sent", name=op.f("uq_warnings_sender")),
    )
    op.create_index("ix_warnings_state_received", "warnings", ["state", "received_at"])
    op.create_index(op.f("ix_warnings_source_url"), "warnings", ["source_url"])


def downgrade() -> None:
    op.drop_index(op.f("ix_warnings_source_url"), table_name="warnings")
    op.drop_index("ix_warnings_state_received", table_name="warnings")
    op.drop_table("warnings")
