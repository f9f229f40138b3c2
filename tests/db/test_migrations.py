"""The schema comes only from migrations: one head, and the models agree with it."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from outage_notify.db.engine import make_engine
from outage_notify.db.migrate import (
    alembic_config,
    at_head,
    bring_to_head,
    head_revision,
    include_object,
    recorded_revisions,
    script_heads,
    upgrade,
)
from outage_notify.db.models import Base
from outage_notify.runtime import Runtime


def test_there_is_exactly_one_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


def test_the_models_match_what_the_migrations_build(database_url: str) -> None:
    import geoalchemy2  # noqa: F401  (teaches reflection PostGIS's geometry type)

    engine = make_engine(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == [], "a model changed without a migration: " + repr(diff)


def test_upgrade_downgrade_upgrade_round_trips(empty_database_url: str) -> None:
    url = empty_database_url
    upgrade(url)
    engine = make_engine(url)
    assert at_head(engine)
    command.downgrade(alembic_config(url), "base")
    assert not at_head(engine)
    upgrade(url)
    assert at_head(engine)
    assert head_revision() is not None
    engine.dispose()


# ---- "at head?" without Alembic (what the one-shot commands ask) -------------------------------


def test_the_heads_read_from_the_migration_files_are_alembics_heads() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert script_heads() == frozenset(script.get_heads())


def write_revisions(folder: Path, *revisions: tuple[str, str]) -> None:
    for revision, down in revisions:
        (folder / f"{revision}_step.py").write_text(
            f'revision: str = "{revision}"\ndown_revision = {down}\n', encoding="utf-8"
        )


def test_the_heads_of_a_branched_history_are_its_tips_until_a_merge(tmp_path: Path) -> None:
    write_revisions(tmp_path, ("a1", "None"), ("b2", '"a1"'), ("c3", '"a1"'))
    (tmp_path / "__init__.py").write_text("revision = 'not a migration'\n")
    assert script_heads(tmp_path) == {"b2", "c3"}
    write_revisions(tmp_path, ("d4", '("b2", "c3")'))
    assert script_heads(tmp_path) == {"d4"}


@pytest.mark.parametrize(
    "ids",
    ['revision = make_id()\ndown_revision = "a1"\n', 'down_revision = "a1"\n', "revision = ("],
)
def test_a_migration_whose_ids_cannot_be_read_leaves_the_question_to_alembic(
    tmp_path: Path, ids: str
) -> None:
    write_revisions(tmp_path, ("a1", "None"))
    (tmp_path / "b2_step.py").write_text(ids, encoding="utf-8")
    assert script_heads(tmp_path) is None


def test_bring_to_head_runs_alembic_only_when_the_database_is_not_at_head(
    empty_database_url: str,
) -> None:
    url = empty_database_url
    engine = make_engine(url)
    assert recorded_revisions(engine) is None
    assert bring_to_head(engine, url) is True
    assert at_head(engine)
    assert bring_to_head(engine, url) is False
    command.downgrade(alembic_config(url), "-1")
    assert not at_head(engine)
    assert bring_to_head(engine, url) is True
    assert at_head(engine)
    engine.dispose()


def _populated(url: str) -> tuple[str, Runtime]:
    """A database at head holding customers with notifications, timeline and subscriptions."""
    from fastapi.testclient import TestClient

    from outage_notify.app import create_app
    from outage_notify.auth.apikeys import create_key
    from outage_notify.config import Settings
    from outage_notify.customers.service import add_push_subscription, get_customer
    from outage_notify.timeutil import utcnow
    from tests.conftest import TEST_SECRET
    from tests.town import cells, town

    upgrade(url)
    runtime = Runtime.build(
        Settings(database_url=url, dispatcher_enabled=False, secret_key=TEST_SECRET)
    )
    with runtime.transaction() as session:
        headers = {
            "Authorization": f"Bearer {create_key(session, role='admin', name='a', now=utcnow())[1]}"
        }
    client = TestClient(create_app(runtime=runtime))
    client.post("/api/v1/customers", json=town(), headers=headers)
    client.post(
        "/api/v1/incidents", json={"external_id": "M-1", "area": cells(0, 0, 4, 4)}, headers=headers
    )
    runtime.planner.drain()
    with runtime.transaction() as session:
        customer = get_customer(session, customer_id="C-0-0")
        assert customer is not None
        add_push_subscription(
            session,
            customer=customer,
            endpoint="https://push.example/1",
            p256dh="k",
            auth="a",
            now=utcnow(),
        )
    return url, runtime


def _counts(runtime: Runtime) -> dict[str, int]:
    tables = ("customers", "notifications", "timeline_events", "push_subscriptions", "outbox")
    with runtime.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}


def test_a_downgrade_and_upgrade_keep_every_row_that_refers_to_a_customer(
    empty_database_url: str,
) -> None:
    url, runtime = _populated(empty_database_url)
    before = _counts(runtime)
    assert before["notifications"] > 0 and before["push_subscriptions"] == 1
    command.downgrade(alembic_config(url), "0002")
    assert _counts(runtime) == before  # rebuilding customers must not cascade to its children
    upgrade(url)
    assert _counts(runtime) == before
    runtime.close()


def test_a_downgrade_that_would_lose_keyed_opt_outs_is_refused(empty_database_url: str) -> None:
    from outage_notify.customers.optouts import opt_out
    from outage_notify.timeutil import utcnow

    url, runtime = _populated(empty_database_url)
    with runtime.transaction() as session:
        opt_out(
            session, hasher=runtime.hasher, channel="sms", address="+358401000000", now=utcnow()
        )
    with pytest.raises(RuntimeError, match="would lose them"):
        command.downgrade(alembic_config(url), "0002")
    assert at_head(runtime.engine)
    runtime.close()
