"""Alembic environment: one history for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from logging.config import fileConfig
from typing import Any

from alembic import context

from outage_notify.config import get_settings
from outage_notify.db.engine import make_engine
from outage_notify.db.migrate import include_object
from outage_notify.db.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str:
    return config.attributes.get("database_url") or get_settings().database_url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        render_as_batch=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: Any) -> None:
    if connection.dialect.name == "postgresql":
        import geoalchemy2  # noqa: F401  (autogenerate then reflects PostGIS's geometry type)

    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        include_object=include_object,
        # SQLite's DDL is transactional too: one run of migrations commits whole or not at
        # all, so a downgrade refused half-way leaves the schema where it was.
        transactional_ddl=True,
    )
    with _foreign_keys_off(connection), context.begin_transaction():
        context.run_migrations()


@contextmanager
def _foreign_keys_off(connection: Any) -> Iterator[None]:
    """SQLite alters a table by copying it, dropping the old one and renaming the copy; with
    foreign keys enforced, dropping the old table would cascade to every row that refers to
    it (a customer's notifications, timeline, subscriptions). The pragma only takes effect
    outside a transaction, so it is set on the driver's connection before one begins."""
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.driver_connection
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
