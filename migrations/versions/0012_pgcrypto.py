"""PostgreSQL: pgcrypto, so that planning checks opt-outs and tombstones inside the database
with the same keyed hashes (HMAC-SHA256) the service computes (planning/setwise.py). A trusted
extension since PostgreSQL 13: the database's owner may create it. Nothing on SQLite.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 21:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP EXTENSION IF EXISTS pgcrypto")
