from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from outage_notify.db.bulk import BulkWriteError
from outage_notify.db.transient import is_transient


class _Driver(Exception):
    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (OperationalError("s", {}, _Driver("deadlock detected", "40P01")), True),
        (OperationalError("s", {}, _Driver("could not serialize", "40001")), True),
        (OperationalError("s", {}, _Driver("lock timeout", "55P03")), True),
        (OperationalError("s", {}, _Driver("database is locked")), True),
        (OperationalError("s", {}, _Driver("disk I/O error")), False),
        (OperationalError("s", {}, _Driver("connection refused", "08006")), False),
        (IntegrityError("s", {}, _Driver("duplicate key", "23505")), False),
        (ValueError("deadlock detected"), False),
        (BulkWriteError("COPY into x failed: deadlock detected", "40P01"), True),
        (BulkWriteError("COPY into x failed: invalid input syntax", "22P02"), False),
    ],
)
def test_only_a_lost_race_is_worth_retrying(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient
