"""What every channel shares: the message handed to it and the answer it gives back.

A channel is called with no database session open; it only talks to its provider and says how
that went, mapped from the provider's own codes by the channel's status table.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    SENT = "sent"  # the provider accepted it; a receipt may follow
    DELIVERED = "delivered"  # nothing further will be known (dev sink, in-app)
    RETRY = "retry"  # transient: try again later
    FAILED = "failed"  # permanent for this address


@dataclass(frozen=True)
class PushTarget:
    subscription_id: int
    endpoint: str
    p256dh: str
    auth: str


@dataclass(frozen=True)
class OutgoingMessage:
    """A claimed notification, copied out of the database for the provider call."""

    notification_id: int
    customer_pk: int
    channel: str
    kind: str
    language: str
    to_address: str | None
    subject: str | None
    body: str
    html: str | None
    attempt: int
    push_targets: tuple[PushTarget, ...] = ()
    to_name: str | None = None  # the customer's name, for an email's To header
    customer_id: str = ""  # the utility's id of the customer, for the opt-out check


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    provider: str
    provider_ref: str | None = None
    error: str | None = None
    gone_subscriptions: tuple[int, ...] = field(default=())


class Channel(ABC):
    channel: str
    provider: str
    # A send that reaches a person is marked in flight just before the call, so that after a
    # crash only such sends are repeated and flagged. A channel whose send reaches nobody
    # outside this service (the development sink) can skip that write.
    reaches_people: bool = True

    @abstractmethod
    def send(self, message: OutgoingMessage) -> SendResult: ...

    def close(self) -> None:  # noqa: B027 - most channels hold nothing to close
        """Releases connections; called when the dispatcher stops."""

    def result(
        self, outcome: Outcome, ref: str | None = None, error: str | None = None
    ) -> SendResult:
        return SendResult(outcome=outcome, provider=self.provider, provider_ref=ref, error=error)
