"""Database errors that say "try again", not "this is wrong": a conflicting transaction won."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from outage_notify.db.bulk import BulkWriteError

# PostgreSQL: serialization failure, deadlock detected, lock not available (lock_timeout).
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


def is_transient(exc: BaseException) -> bool:
    """True when the statement lost a race with another transaction and would succeed if the
    whole transaction were tried again."""
    if isinstance(exc, BulkWriteError):
        return exc.sqlstate in _RETRYABLE_SQLSTATES
    if not isinstance(exc, DBAPIError):
        return False
    if getattr(exc.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES:
        return True
    # SQLite's one writer: the busy timeout ran out while another transaction wrote.
    return "database is locked" in str(exc.orig)
