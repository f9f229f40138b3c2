"""Build and check the schema only by running Alembic, the same way everywhere."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from outage_notify import paths


def alembic_config(database_url: str) -> Config:
    config = Config(str(paths.ALEMBIC_INI))
    config.set_main_option("script_location", str(paths.MIGRATIONS))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    return config


def upgrade(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


def head_revision() -> str | None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return script.get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def at_head(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()
