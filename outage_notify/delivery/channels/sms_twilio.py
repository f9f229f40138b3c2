"""SMS through Twilio's REST API with the official SDK.

The base URL is configurable (a local stand-in in tests). Each message carries a
StatusCallback naming our notification, so a receipt that beats our own bookkeeping still
finds its message.
"""

from __future__ import annotations

import threading
from urllib.parse import urlencode

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from outage_notify.config import Settings
from outage_notify.delivery.channels.base import Channel, Outcome, OutgoingMessage, SendResult

STATUS_CALLBACK_PATH = "/webhooks/twilio/status"

# Error codes (https://www.twilio.com/docs/api/errors) that no retry can mend: the number.
PERMANENT_CODES = frozenset(
    {
        21211,  # invalid 'To' number
        21408,  # region not enabled for this number
        21610,  # recipient replied STOP at Twilio
        21612,  # 'To' not reachable by this sender
        21614,  # 'To' is not a mobile number
        21217,  # phone number does not appear valid
        30003,  # unreachable handset
        30005,  # unknown destination
        30006,  # landline or unreachable carrier
    }
)

# Message.status → our outcome, for the create call's answer and for status callbacks.
STATUS_MAP = {
    "accepted": Outcome.SENT,
    "scheduled": Outcome.SENT,
    "queued": Outcome.SENT,
    "sending": Outcome.SENT,
    "sent": Outcome.SENT,
    "delivered": Outcome.DELIVERED,
    "read": Outcome.DELIVERED,
    "undelivered": Outcome.FAILED,
    "failed": Outcome.FAILED,
    "canceled": Outcome.FAILED,
}


def classify_rest_error(status: int | None, code: int | None) -> Outcome:
    """HTTP status and Twilio error code of a refused request → retry or give up."""
    if code in PERMANENT_CODES:
        return Outcome.FAILED
    if status is None or status == 429 or status >= 500:
        return Outcome.RETRY
    # Our credentials or account refused: a configuration to fix, not a customer to drop.
    if status in (401, 403):
        return Outcome.RETRY
    return Outcome.FAILED


def status_callback_url(public_url: str, notification_id: int) -> str:
    return f"{public_url.rstrip('/')}{STATUS_CALLBACK_PATH}?{urlencode({'n': notification_id})}"


class TwilioSms(Channel):
    channel = "sms"
    provider = "twilio"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._local = threading.local()

    def _client(self) -> Client:
        client: Client | None = getattr(self._local, "client", None)
        if client is None:
            http = TwilioHttpClient(timeout=self._settings.twilio_timeout_seconds)
            client = Client(
                self._settings.twilio_account_sid,
                self._settings.twilio_auth_token,
                http_client=http,
            )
            client.api.base_url = self._settings.twilio_base_url.rstrip("/")
            self._local.client = client
        return client

    def send(self, message: OutgoingMessage) -> SendResult:
        if not message.to_address:
            return self.result(Outcome.FAILED, error="no phone number")
        sender = self._settings.twilio_from or ""
        # A Messaging Service SID (MG…) lets Twilio pick the sender from its pool.
        origin = {"messaging_service_sid": sender} if sender.startswith("MG") else {"from_": sender}
        try:
            created = self._client().messages.create(
                to=message.to_address,
                body=message.body,
                status_callback=status_callback_url(
                    self._settings.public_url, message.notification_id
                ),
                **origin,
            )
        except TwilioRestException as exc:
            outcome = classify_rest_error(exc.status, exc.code)
            return self.result(outcome, error=f"Twilio {exc.status} code {exc.code}: {exc.msg}")
        except (requests.RequestException, OSError) as exc:
            return self.result(Outcome.RETRY, error=f"Twilio unreachable: {exc}")
        outcome = STATUS_MAP.get(str(created.status), Outcome.SENT)
        error = f"Twilio code {created.error_code}" if outcome is Outcome.FAILED else None
        return self.result(outcome, ref=created.sid, error=error)
