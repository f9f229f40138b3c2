"""The development sink: for a channel with no provider configured, the message is recorded
(the notification row is the record), marked delivered, and shown on /dev/inbox."""

from __future__ import annotations

from outage_notify.delivery.channels.base import Channel, Outcome, OutgoingMessage, SendResult

PROVIDER = "dev_sink"


class DevSink(Channel):
    provider = PROVIDER
    reaches_people = False

    def __init__(self, channel: str) -> None:
        self.channel = channel

    def send(self, message: OutgoingMessage) -> SendResult:
        return self.result(Outcome.DELIVERED, ref=f"dev-{message.notification_id}")
