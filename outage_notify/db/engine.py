"""Engine and session handling for SQLite (embedded default) and PostgreSQL (at scale)."""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_SECONDS = 60.0


def make_engine(
    url: str, *, writer: bool = True, busy_seconds: float = SQLITE_BUSY_SECONDS, **kwargs: Any
) -> Engine:
    """writer=False (SQLite only) makes an engine for read-only work: its transactions do not
    take the write lock, so agents can read while a storm is being planned. busy_seconds: how
    long a SQLite writer waits for the lock before "database is locked"."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, writer=writer, busy_seconds=busy_seconds, **kwargs)
    # insertmanyvalues turns a batch into one INSERT … VALUES with thousands of placeholders,
    # which psycopg parses afresh each time (too long for its statement cache): for a chunk of
    # planning that parsing cost more than the database's work. psycopg's own executemany
    # sends one short prepared statement per row, pipelined.
    kwargs.setdefault("use_insertmanyvalues", False)
    engine = create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True, **kwargs
    )
    event.listen(engine, "handle_error", _without_values)
    return engine


# A value PostgreSQL quotes at the end of its primary message: `invalid input syntax for type
# integer: "…"`. Identifiers it quotes elsewhere (constraint names) are kept.
_QUOTED_VALUE = re.compile(r': ".*"$', re.S)


def _without_values(context: Any) -> None:
    """hide_parameters keeps bound values out of an error, but PostgreSQL puts them back in
    its own message (DETAIL: Key (customer_id)=(K-1) already exists), which then reaches logs
    and tracebacks. Keep only the primary message, with any quoted value cut out; the full
    diagnostics stay on the driver's exception (`diag`) for code that asks."""
    error, wrapped = context.original_exception, context.sqlalchemy_exception
    full = str(error)
    redacted = redacted_message(error)
    error.args = (redacted,)
    # SQLAlchemy's wrapper has already copied the driver's message into its own.
    if wrapped is not None and wrapped.args and isinstance(wrapped.args[0], str):
        wrapped.args = (wrapped.args[0].replace(full, redacted), *wrapped.args[1:])


def redacted_message(error: BaseException) -> str:
    """The driver's primary message with any value it quotes cut out."""
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None) or str(error).split("\n", 1)[0]
    return _QUOTED_VALUE.sub(': "…"', primary)


def _sqlite_engine(url: str, *, writer: bool, busy_seconds: float, **kwargs: Any) -> Engine:
    # Writers queue on SQLite's lock anyway; enough connections that the API's thread pool
    # and the dispatcher wait on the lock (with its timeout), not on the pool.
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": busy_seconds},
        hide_parameters=True,  # an error names its statement, never a customer's phone
        **kwargs,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads and then
        # writes while another connection committed fails at once with SQLITE_BUSY, which the
        # busy timeout cannot wait out. The API and the dispatcher write from several threads.
        # Readers (WAL) see a snapshot and never write, so they need no lock.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    if writer:
        _WRITERS[engine] = _WriterQueue(threading.RLock(), busy_seconds)
    return engine


def upsert_insert(session: Session) -> Any:
    """The dialect's INSERT, which has ON CONFLICT DO NOTHING (SQLite and PostgreSQL alike)."""
    # Imported here: the PostgreSQL dialect is not loaded at all by a command run on SQLite.
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A read-only unit of work: never commits. Closing ends the transaction and keeps what
    was loaded readable (a rollback would expire it)."""
    session = factory()
    try:
        yield session
    finally:
        session.close()


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """The owner of a unit of work: commits when the block ends, rolls back if it raises."""
    with _writing_turn(factory.kw.get("bind")):
        session = factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


@dataclass(frozen=True)
class _WriterQueue:
    lock: threading.RLock
    patience: float


# SQLite has one write lock per database. Threads of one process that wait for it inside
# SQLite poll with sleeps of up to 100 ms each, which at delivery rates (a transaction per
# message sent) costs more than the writes; queueing them on a lock of our own first hands
# the database over at once. Other processes still meet SQLite's own busy timeout.
_WRITERS: weakref.WeakKeyDictionary[Engine, _WriterQueue] = weakref.WeakKeyDictionary()


@contextmanager
def _writing_turn(bind: Any) -> Iterator[None]:
    queue = _WRITERS.get(bind) if isinstance(bind, Engine) else None
    if queue is None:
        yield
        return
    # Past its patience a writer goes on and lets SQLite's busy timeout decide, as before.
    held = queue.lock.acquire(timeout=queue.patience)
    try:
        yield
    finally:
        if held:
            queue.lock.release()
