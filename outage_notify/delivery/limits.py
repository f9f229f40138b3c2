"""How hard one worker may press each provider: a number of sends in flight per channel, and
for SMS a rate per sender shared by the whole deployment (delivery/pace.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from outage_notify.config import Settings
from outage_notify.delivery.pace import SenderPacer


@dataclass
class ChannelLimits:
    concurrency: dict[str, int]
    pacers: dict[str, SenderPacer] = field(default_factory=dict)
    _gates: dict[str, threading.BoundedSemaphore] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._gates = {ch: threading.BoundedSemaphore(n) for ch, n in self.concurrency.items()}

    @classmethod
    def from_settings(cls, settings: Settings, sessions: sessionmaker[Session]) -> ChannelLimits:
        pacers = {}
        if settings.twilio_messages_per_second > 0 and settings.twilio_from:
            pacers["sms"] = SenderPacer(
                sessions=sessions,
                sender=f"twilio:{settings.twilio_from}",
                rate=settings.twilio_messages_per_second,
            )
        return cls(
            concurrency={
                "sms": settings.sms_concurrency,
                "email": settings.email_concurrency,
                "push": settings.push_concurrency,
            },
            pacers=pacers,
        )

    @contextmanager
    def slot(self, channel: str) -> Iterator[None]:
        """Holds one of the channel's places in flight for the duration of a send."""
        gate = self._gates.get(channel)
        if gate is None:
            yield
            return
        with gate:
            yield

    def wait_turn(self, channel: str) -> None:
        pacer = self.pacers.get(channel)
        if pacer is not None:
            pacer.wait_turn()
