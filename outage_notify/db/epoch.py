"""`epoch_seconds(column)`: a UTC time column as whole seconds since the Unix epoch, in SQL, on
SQLite and PostgreSQL alike, so that rows can be grouped into time buckets by the database.

SQLite keeps UTC as naive text (db/types.py), which strftime('%s') reads as UTC; PostgreSQL's
EXTRACT(EPOCH) of a timestamptz is UTC by definition. Both are truncated to whole seconds, so
buckets of whole seconds aligned to the epoch get the same rows on both.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import BigInteger


class EpochSeconds(ColumnElement[int]):
    type = BigInteger()
    # Compiled per statement (no cache key): a dashboard query, run every few seconds at most.
    inherit_cache = False

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column


def epoch_seconds(column: Any) -> ColumnElement[int]:
    return EpochSeconds(column)


@compiles(EpochSeconds)
def _generic(element: EpochSeconds, compiler: Any, **kw: Any) -> str:
    return f"CAST(strftime('%s', {compiler.process(element.column, **kw)}) AS INTEGER)"


@compiles(EpochSeconds, "postgresql")
def _postgresql(element: EpochSeconds, compiler: Any, **kw: Any) -> str:
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {compiler.process(element.column, **kw)})) AS BIGINT)"
