"""among(column, values): one array parameter on PostgreSQL, IN elsewhere, same rows."""

from __future__ import annotations

import sqlite3

from sqlalchemy import and_, select
from sqlalchemy.dialects import postgresql, sqlite

from outage_notify.db.among import among
from outage_notify.db.engine import make_engine, make_session_factory, reading
from outage_notify.db.models import AppMeta, Customer


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


def test_sqlite_looks_the_values_up_by_index() -> None:
    """A Boolean element in a WHERE on a dialect without native booleans is rendered `x = 1`
    unless SQLAlchemy knows it is a comparison already; `(id IN (…)) = 1` makes SQLite scan the
    whole table (planning a chunk of a 1M-customer town read every customer)."""
    query = select(Customer.id).where(among(Customer.id, [5, 7, 9]))
    compiled = query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, customer_id TEXT)")
    plan = connection.execute(f"EXPLAIN QUERY PLAN {compiled}").fetchall()
    connection.close()
    assert "= 1" not in str(compiled)
    assert any("USING INTEGER PRIMARY KEY" in row[-1] for row in plan), plan


def test_negated_and_combined_it_still_selects_the_same_rows(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            AppMeta.__table__.insert(), [{"key": f"among-{i}", "value": "v"} for i in range(4)]
        )
    with reading(make_session_factory(engine)) as session:
        keys = select(AppMeta.key).where(AppMeta.key.startswith("among-"))
        wanted = ["among-1", "among-3"]
        outside = session.scalars(keys.where(~among(AppMeta.key, wanted))).all()
        both = session.scalars(
            keys.where(and_(among(AppMeta.key, wanted), AppMeta.value == "v"))
        ).all()
    engine.dispose()
    assert sorted(outside) == ["among-0", "among-2"]
    assert sorted(both) == wanted
