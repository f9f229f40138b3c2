"""The engine: planning jobs, leases for the clock, who made each revision, and (PostgreSQL)
customer points in a GiST-indexed PostGIS column.

- planning_jobs: one row per incident; workers plan its customers in chunks up to the
  incident's latest version. Incidents planned before this revision were planned in the
  request that changed them: their ties are marked planned at the incident's version.
- leases, job_runs: one process per deployment runs the clock's sweeps, under a lease.
- incident_revisions.actor: the API key, feed or rule that made the revision.
- customers.geom (PostgreSQL only): a generated geometry(Point, 4326) column with a GiST index,
  so an incident's area is matched in the database (ST_Covers) and no process holds every
  customer in memory. Needs the postgis extension (created here when the role may).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import outage_notify.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = outage_notify.db.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "planning_jobs",
        sa.Column("incident_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("matched_version", sa.Integer(), nullable=False),
        sa.Column("review_from", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("lease_owner", sa.String(length=80), nullable=True),
        sa.Column("lease_expires_at", UTC(timezone=True), nullable=True),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.Column("done_at", UTC(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_planning_jobs_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_planning_jobs")),
    )
    with op.batch_alter_table("planning_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_planning_jobs_state_updated", ["state", "updated_at"], unique=False
        )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("owner", sa.String(length=80), nullable=False),
        sa.Column("acquired_at", UTC(timezone=True), nullable=False),
        sa.Column("expires_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    op.create_table(
        "job_runs",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("last_started_at", UTC(timezone=True), nullable=True),
        sa.Column("last_finished_at", UTC(timezone=True), nullable=True),
        sa.Column("last_owner", sa.String(length=80), nullable=True),
        sa.Column("last_result", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_runs")),
    )
    with op.batch_alter_table("incident_revisions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("actor", sa.String(length=300), nullable=False, server_default="unknown")
        )
    with op.batch_alter_table("incident_customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("planned_version", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("planned_affected", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # Everything before this revision was planned in the request that changed it.
    op.execute(
        "UPDATE incident_customers SET planned_affected = affected, planned_version = "
        "(SELECT version FROM incidents WHERE incidents.id = incident_customers.incident_id)"
    )
    if op.get_bind().dialect.name == "postgresql":
        _add_postgis_points()


def _add_postgis_points() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute(
        "ALTER TABLE customers ADD COLUMN geom geometry(Point, 4326) "
        "GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED"
    )
    op.execute("CREATE INDEX ix_customers_geom ON customers USING gist (geom)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_customers_geom")
        op.execute("ALTER TABLE customers DROP COLUMN IF EXISTS geom")
    with op.batch_alter_table("incident_customers", schema=None) as batch_op:
        batch_op.drop_column("planned_affected")
        batch_op.drop_column("planned_version")
    with op.batch_alter_table("incident_revisions", schema=None) as batch_op:
        batch_op.drop_column("actor")
    op.drop_table("job_runs")
    op.drop_table("leases")
    with op.batch_alter_table("planning_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_planning_jobs_state_updated")
    op.drop_table("planning_jobs")
