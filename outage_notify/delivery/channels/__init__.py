"""The channel for each kind of address: the configured provider, or the development sink."""

from __future__ import annotations

from typing import TYPE_CHECKING

from outage_notify.delivery.channels.base import Channel
from outage_notify.delivery.channels.dev_sink import DevSink

if TYPE_CHECKING:
    from outage_notify.config import Settings


def build_channels(settings: Settings) -> dict[str, Channel]:
    # The providers' SDKs are imported here, not with the package, so that loading one
    # channel module (the VAPID keys of `outage-notify vapid generate`) does not load them all.
    from outage_notify.delivery.channels.email_smtp import SmtpEmail
    from outage_notify.delivery.channels.sms_twilio import TwilioSms
    from outage_notify.delivery.channels.webpush import WebPush

    channels: dict[str, Channel] = {}
    if settings.twilio_configured:
        channels["sms"] = TwilioSms(settings)
    if settings.smtp_configured:
        channels["email"] = SmtpEmail(settings)
    if settings.push_configured:
        channels["push"] = WebPush(settings)
    for name in ("sms", "email", "push"):
        channels.setdefault(name, DevSink(name))
    return channels


def uses_dev_sink(channels: dict[str, Channel]) -> list[str]:
    return [name for name, ch in channels.items() if isinstance(ch, DevSink)]
