"""The schema comes only from migrations: one head, and the models agree with it."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from outage_notify.db.engine import make_engine
from outage_notify.db.migrate import alembic_config, at_head, head_revision, upgrade
from outage_notify.db.models import Base


def test_there_is_exactly_one_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


def test_the_models_match_what_the_migrations_build(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == [], "a model changed without a migration: " + repr(diff)


def test_upgrade_downgrade_upgrade_round_trips(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'round.db'}"
    upgrade(url)
    engine = make_engine(url)
    assert at_head(engine)
    command.downgrade(alembic_config(url), "base")
    assert not at_head(engine)
    upgrade(url)
    assert at_head(engine)
    assert head_revision() is not None
    engine.dispose()
