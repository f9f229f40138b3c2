"""insert_rows: COPY on PostgreSQL, executemany on SQLite; the same rows either way."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from outage_notify.customers.service import upsert_customers
from outage_notify.db.bulk import BulkWriteError, insert_rows
from outage_notify.db.models import Customer, TimelineEvent
from outage_notify.ingest.customers import CustomerRules, parse_json_list
from outage_notify.runtime import Runtime
from tests.town import customer

AT = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
TABLE = TimelineEvent.__table__


def _customer_pk(runtime: Runtime) -> int:
    parsed = parse_json_list([customer(0, 0)], CustomerRules())
    with runtime.transaction() as session:
        upsert_customers(session, records=[r for _, r in parsed.records], now=AT)
    with runtime.reading() as session:
        return int(session.scalar(select(Customer.id)))


def _event(pk: int, **fields: object) -> dict[str, object]:
    row: dict[str, object] = {
        "customer_pk": pk,
        "at": AT,
        "type": "message",
        "incident_id": None,
        "notification_id": None,
        "channel": None,
        "kind": None,
        "status": None,
        "reason": None,
        "body": None,
        "data": None,
    }
    return {**row, **fields}


def test_the_rows_go_in_with_their_types_intact(runtime: Runtime) -> None:
    pk = _customer_pk(runtime)
    rows = [
        _event(pk, body="Sähköt poikki\ttab\nnewline \\ backslash", data={"to": "+358", "n": [1]}),
        _event(pk, channel="sms", status="queued", data=None),
    ]
    with runtime.transaction() as session:
        insert_rows(session, TABLE, rows)
    with runtime.reading() as session:
        found = session.execute(
            select(
                TimelineEvent.at, TimelineEvent.body, TimelineEvent.data, TimelineEvent.channel
            ).order_by(TimelineEvent.id)
        ).all()
    assert [tuple(r) for r in found] == [
        (AT, "Sähköt poikki\ttab\nnewline \\ backslash", {"to": "+358", "n": [1]}, None),
        (AT, None, None, "sms"),
    ]


def test_a_rolled_back_transaction_keeps_none_of_them(runtime: Runtime) -> None:
    pk = _customer_pk(runtime)

    def write_then_fail() -> None:
        with runtime.transaction() as session:
            insert_rows(session, TABLE, [_event(pk), _event(pk)])
            raise RuntimeError("the step failed after writing")

    with pytest.raises(RuntimeError):
        write_then_fail()
    with runtime.reading() as session:
        assert session.scalars(select(TimelineEvent.id)).all() == []


@pytest.mark.postgresql_only(reason="COPY's errors; SQLite's go through the statement path")
def test_a_refused_row_names_the_table_and_no_value(runtime: Runtime) -> None:
    with pytest.raises(BulkWriteError) as refused, runtime.transaction() as session:
        insert_rows(session, TABLE, [_event(999_999, body="+358401234567")])
    assert "timeline_events" in str(refused.value)
    assert "+358401234567" not in str(refused.value) and "999999" not in str(refused.value)
    assert refused.value.__cause__ is None and refused.value.__suppress_context__
