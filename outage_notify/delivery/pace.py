"""Pacing one sender's messages across every worker of the deployment.

A provider limits how fast one sender may send (Twilio: a number sends so many messages a
second; beyond that it queues or refuses them). Each worker reserves a few send slots at a
time from the sender's shared "next free slot" in the database (one UPDATE … RETURNING, atomic
on SQLite and PostgreSQL alike), then waits for each slot before its provider call. So the
rate holds for the deployment whatever the number of workers; a worker that dies with slots
reserved leaves a gap of at most one reservation, never a burst.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from sqlalchemy import case, update
from sqlalchemy.orm import Session, sessionmaker

from outage_notify.db.engine import transaction, upsert_insert
from outage_notify.db.models import SendPace

# Slots reserved at once: at most a second's worth, so idle reservations stay small.
MAX_RESERVATION = 50


def reserve_slots(
    session: Session, *, sender: str, rate: float, count: int, now: float
) -> list[float]:
    """Reserves `count` consecutive slots of the sender (epoch seconds, 1/rate apart) from its
    next free one, or from now if that has passed; in the caller's transaction."""
    span = count / rate
    session.execute(
        upsert_insert(session)(SendPace)
        .values(sender=sender, next_slot=now)
        .on_conflict_do_nothing(index_elements=["sender"])
    )
    start = case((SendPace.next_slot < now, now), else_=SendPace.next_slot)
    ends = session.execute(
        update(SendPace)
        .where(SendPace.sender == sender)
        .values(next_slot=start + span)
        .returning(SendPace.next_slot)
    ).scalar_one()
    first = ends - span
    return [first + i / rate for i in range(count)]


class SenderPacer:
    """Hands out this process's share of a sender's slots; `wait_turn` blocks until the next."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        sender: str,
        rate: float,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("a pace needs a positive rate")
        self._sessions = sessions
        self._sender = sender
        self._rate = rate
        self._now = now
        self._sleep = sleep
        self._slots: deque[float] = deque()
        self._lock = threading.Lock()

    def wait_turn(self) -> None:
        slot = self._next_slot()
        delay = slot - self._now()
        if delay > 0:
            self._sleep(delay)

    def _next_slot(self) -> float:
        with self._lock:
            now = self._now()
            while self._slots and self._slots[0] < now - 1.0 / self._rate:
                self._slots.popleft()  # slots left unused too long ago are forfeited
            if not self._slots:
                count = max(1, min(MAX_RESERVATION, int(self._rate)))
                with transaction(self._sessions) as session:
                    self._slots.extend(
                        reserve_slots(
                            session, sender=self._sender, rate=self._rate, count=count, now=now
                        )
                    )
            return self._slots.popleft()
