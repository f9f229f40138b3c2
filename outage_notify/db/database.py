"""The database alone, for work that needs no more than sessions: the one-shot commands.

Runtime is the whole application (templates, the customer index, channels, the dispatcher) and
loads everything they need; a command that creates an API key or erases a customer opens this
instead and starts in a fraction of the time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from outage_notify.auth.secret import SecretKey, check_fingerprint, load_secret
from outage_notify.customers.contacts import PURPOSE as CONTACT_HASHES
from outage_notify.customers.contacts import ContactHasher
from outage_notify.customers.optouts import wrap_legacy
from outage_notify.db.engine import make_engine, make_session_factory, transaction
from outage_notify.db.migrate import bring_to_head, require_head

if TYPE_CHECKING:
    from outage_notify.config import Settings


@dataclass
class Database:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    secret: SecretKey = field(repr=False)
    hasher: ContactHasher = field(repr=False)

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> Database:
        """Connects, brings the schema to head (or, with migrate=False, refuses a database
        that is not there: workers never migrate) and checks the secret key. Every check a
        process needs before it touches data belongs here, so that none can skip it."""
        engine = make_engine(settings.database_url, busy_seconds=settings.sqlite_busy_seconds)
        try:
            if migrate:
                bring_to_head(engine, settings.database_url)
            else:
                require_head(engine)
            sessions = make_session_factory(engine)
            secret = load_secret(settings)
            hasher = ContactHasher(secret.derive(CONTACT_HASHES))
            with transaction(sessions) as session:
                _adopt_secret(session, secret, hasher)
        except BaseException:
            engine.dispose()
            raise
        return cls(settings, engine, sessions, secret, hasher)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with transaction(self.sessions) as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()


def _adopt_secret(session: Session, secret: SecretKey, hasher: ContactHasher) -> None:
    """Refuses a key other than the one this database was set up with; keys the opt-outs
    stored as plain hashes before keyed hashes existed (migration 0003), if any are left."""
    check_fingerprint(session, secret)
    wrap_legacy(session, hasher=hasher)


@contextmanager
def open_database(settings: Settings) -> Iterator[Database]:
    database = Database.open(settings)
    try:
        yield database
    finally:
        database.close()
