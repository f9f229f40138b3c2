"""among(column, values): one array parameter on PostgreSQL, IN elsewhere, same rows."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from outage_notify.db.among import among
from outage_notify.db.engine import make_engine, make_session_factory, reading
from outage_notify.db.models import AppMeta


def test_postgresql_gets_one_short_statement_whatever_the_number_of_values() -> None:
    query = select(AppMeta.key).where(among(AppMeta.key, [f"k{i}" for i in range(2000)]))
    on_postgresql = str(query.compile(dialect=postgresql.dialect()))
    assert "= ANY (" in on_postgresql and len(on_postgresql) < 200
    assert " IN (" in str(query.compile(dialect=sqlite.dialect()))


def test_the_rows_are_those_of_in(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            AppMeta.__table__.insert(), [{"key": f"among-{i}", "value": "v"} for i in range(5)]
        )
    with reading(make_session_factory(engine)) as session:
        wanted = ["among-1", "among-3", "nobody"]
        found = session.scalars(select(AppMeta.key).where(among(AppMeta.key, wanted))).all()
        none = session.scalars(select(AppMeta.key).where(among(AppMeta.key, []))).all()
    engine.dispose()
    assert sorted(found) == ["among-1", "among-3"] and none == []
