"""How hard the workers press each provider: sends in flight per channel, and one sender's
rate shared by every worker through the database."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from outage_notify.clock import ManualClock
from outage_notify.config import Settings
from outage_notify.customers.service import upsert_customers
from outage_notify.db.engine import make_engine, make_session_factory, transaction
from outage_notify.delivery.channels.base import Channel, Outcome, OutgoingMessage, SendResult
from outage_notify.delivery.pace import SenderPacer, reserve_slots
from outage_notify.ingest.customers import CustomerRules, parse_json_list
from outage_notify.runtime import Runtime
from tests.engine import upsert_incident
from tests.town import cells, town

NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


class SlowSms(Channel):
    """Counts how many sends are in flight at once."""

    provider = "slow"

    def __init__(self) -> None:
        self.in_flight = 0
        self.most = 0
        self.sent = 0
        self._lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> SendResult:
        with self._lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        time.sleep(0.02)
        with self._lock:
            self.in_flight -= 1
            self.sent += 1
        return self.result(Outcome.SENT, ref=f"slow-{message.notification_id}")


def test_no_more_sends_of_a_channel_are_in_flight_than_its_setting(
    make_settings: Callable[..., Settings],
) -> None:
    runtime = Runtime.build(
        make_settings(sms_concurrency=3, dispatch_threads=16), clock=ManualClock(NOW)
    )
    try:
        slow = SlowSms()
        runtime.channels["sms"] = slow
        parsed = parse_json_list(town(channels="sms"), CustomerRules())
        with runtime.transaction() as session:
            upsert_customers(session, records=[r for _, r in parsed.records], now=NOW)
        upsert_incident(runtime, {"external_id": "L-1", "area": cells(0, 0, 9, 4)}, now=NOW)
        runtime.dispatcher.drain()
        assert slow.sent == 50
        assert slow.most == 3
    finally:
        runtime.close()


@pytest.fixture
def sessions(database_url: str) -> Iterator[list[sessionmaker[Session]]]:
    engines = [make_engine(database_url) for _ in range(2)]
    yield [make_session_factory(e) for e in engines]
    for engine in engines:
        engine.dispose()


def test_workers_reserving_a_sender_s_slots_never_overlap(
    sessions: list[sessionmaker[Session]],
) -> None:
    """Two workers (two connections) take turns reserving at the same moment: the slots they
    get are one sender's single sequence, 1/rate apart."""
    rate, now = 20.0, 1_000_000.0
    slots = []
    for turn in range(6):
        with transaction(sessions[turn % 2]) as session:
            slots += reserve_slots(session, sender="twilio:+358401", rate=rate, count=5, now=now)
    slots.sort()
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(slots)}
    assert gaps == {round(1 / rate, 9)}
    assert slots[0] == now and len(slots) == 30


def test_a_sender_idle_for_a_while_starts_again_from_now(
    sessions: list[sessionmaker[Session]],
) -> None:
    with transaction(sessions[0]) as session:
        reserve_slots(session, sender="s", rate=10, count=3, now=100.0)
        later = reserve_slots(session, sender="s", rate=10, count=2, now=500.0)
        other = reserve_slots(session, sender="other", rate=10, count=1, now=100.0)
    assert later == [500.0, 500.1]
    assert other == [100.0]  # each sender has its own pace


def test_a_pacer_waits_for_each_slot_and_forfeits_stale_ones(
    sessions: list[sessionmaker[Session]],
) -> None:
    clock = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        clock[0] += seconds

    pacer = SenderPacer(sessions=sessions[0], sender="p", rate=4, now=lambda: clock[0], sleep=sleep)
    for _ in range(4):
        pacer.wait_turn()
    assert slept == [0.25, 0.25, 0.25]  # the first slot was now
    clock[0] += 60  # idle a minute: the slots reserved meanwhile are of no use now
    pacer.wait_turn()
    assert slept == [0.25, 0.25, 0.25]  # no wait, and no burst of old slots
    with transaction(sessions[1]) as session:
        nxt = reserve_slots(session, sender="p", rate=4, count=1, now=clock[0])
    assert nxt[0] > clock[0]  # what this pacer holds is not handed to another worker
