"""The database alone, for work that needs no more than sessions: the one-shot commands.

Runtime is the whole application (templates, the customer index, channels, the dispatcher) and
loads everything they need; a command that creates an API key or erases a customer opens this
instead and starts in a fraction of the time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from outage_notify.db.engine import make_engine, make_session_factory, transaction
from outage_notify.db.migrate import bring_to_head

if TYPE_CHECKING:
    from outage_notify.config import Settings


@dataclass
class Database:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def open(cls, settings: Settings) -> Database:
        """Connects and brings the schema to head. Every check a command needs before it
        touches data belongs here, so that no command can skip it."""
        engine = make_engine(settings.database_url, busy_seconds=settings.sqlite_busy_seconds)
        try:
            bring_to_head(engine, settings.database_url)
        except BaseException:
            engine.dispose()
            raise
        return cls(settings=settings, engine=engine, sessions=make_session_factory(engine))

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with transaction(self.sessions) as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()


@contextmanager
def open_database(settings: Settings) -> Iterator[Database]:
    database = Database.open(settings)
    try:
        yield database
    finally:
        database.close()
