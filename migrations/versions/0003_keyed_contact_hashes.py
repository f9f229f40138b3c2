"""Keyed contact hashes, erasure tombstones, inbound idempotency, revocable customer links.

- opt_outs.scheme: rows made before this revision hold plain SHA-256 hashes ("sha256"); at
  start-up the application replaces each by an HMAC of that hash under the deployment's
  secret ("wrapped"), so no reversible hash is left. Version 0.1 recorded an erasure as an
  opt-out of the erased customer's phone and email; such rows cannot be told apart from a
  STOP and stay opt-outs of that contact (the person can reply START).
- erasures: one row per (erased customer, contact), so that erasing a customer no longer opts
  out another customer who shares the phone or email.
- inbound_messages: the MessageSid of every reply handled, so a retried webhook is a no-op.
- customers.links_revoked_at: an agent can revoke a customer's links.
- The customer-link secret kept in app_meta is dropped: links are now signed under a sub-key of
  the deployment's secret key, which never lives in the database.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import outage_notify.db.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("opt_outs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("scheme", sa.String(length=8), nullable=False, server_default="sha256")
        )
    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_hash", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", outage_notify.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
        sa.UniqueConstraint(
            "customer_hash", "channel", "address_hash", name=op.f("uq_erasures_customer_hash")
        ),
    )
    with op.batch_alter_table("erasures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_erasures_address_hash"), ["address_hash"], unique=False
        )
    op.create_table(
        "inbound_messages",
        sa.Column("message_sid", sa.String(length=64), nullable=False),
        sa.Column("received_at", outage_notify.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_sid", name=op.f("pk_inbound_messages")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "links_revoked_at", outage_notify.db.types.UTCDateTime(timezone=True), nullable=True
            )
        )
    op.execute("DELETE FROM app_meta WHERE key = 'link_secret'")


def downgrade() -> None:
    # Keyed hashes mean nothing without the key, and 0.1 has no place for tombstones: going
    # back would silently lose opt-outs. Refuse while there are any; say what to do.
    keyed = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT (SELECT count(*) FROM opt_outs WHERE scheme <> 'sha256')"
                " + (SELECT count(*) FROM erasures)"
            )
        )
        .scalar()
    )
    if keyed:
        raise RuntimeError(
            f"{keyed} opt-outs or erasure tombstones are kept as keyed hashes, which revision "
            "0002 cannot hold: downgrading would lose them. Stay on 0003 or later."
        )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("links_revoked_at")
    op.drop_table("inbound_messages")
    with op.batch_alter_table("erasures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_erasures_address_hash"))
    op.drop_table("erasures")
    with op.batch_alter_table("opt_outs", schema=None) as batch_op:
        batch_op.drop_column("scheme")
