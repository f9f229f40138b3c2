"""Many rows into one table, as fast as the database takes them.

PostgreSQL: COPY … FROM STDIN on the session's own connection (in its transaction). A storm's
planning writes several rows per customer (message, outbox entry, timeline events); sent as
one prepared INSERT per row, pipelined, the protocol round of each row cost more than the
database's work, and COPY streams them instead. Elsewhere (SQLite): executemany.

COPY knows no ON CONFLICT: use it for rows no unique key can refuse, or whose keys the caller
alone writes and has checked.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from outage_notify.db.engine import redacted_message


class BulkWriteError(RuntimeError):
    """COPY failed; the message names the table, never a value. `sqlstate` is the driver's
    (a deadlock or lock timeout is worth retrying, see db.transient)."""

    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Inserts rows that all have the same keys (the columns written)."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        session.execute(table.insert(), list(rows))
        return
    columns = list(rows[0])
    convert = _converters(table, columns, dialect)
    driver = session.connection().connection.driver_connection
    assert driver is not None
    names = ", ".join(_quoted(dialect, c) for c in columns)
    statement = f"COPY {_quoted(dialect, table.name)} ({names}) FROM STDIN"
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([f(row[c]) for c, f in zip(columns, convert, strict=True)])
    except Exception as exc:
        # The driver's message may quote a value (a phone number, an address): keep only its
        # primary line, values cut out, and drop the chain that carries them.
        raise BulkWriteError(
            f"COPY into {table.name} failed: {redacted_message(exc)}",
            getattr(exc, "sqlstate", None),
        ) from None


def _converters(table: Table, columns: list[str], dialect: Dialect) -> list[Callable[[Any], Any]]:
    """The column types' own bind processing (UTC datetimes, JSON), as an INSERT would do."""
    converters: list[Callable[[Any], Any]] = []
    for name in columns:
        column_type = table.c[name].type
        if isinstance(column_type, JSON):
            # The driver adapts a dict only as a statement parameter; COPY takes the text.
            converters.append(_json_text)
            continue
        processor = column_type.bind_processor(dialect)
        converters.append(processor if processor is not None else _same)
    return converters


def _same(value: Any) -> Any:
    return value


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _quoted(dialect: Dialect, name: str) -> str:
    return str(dialect.identifier_preparer.quote(name))
