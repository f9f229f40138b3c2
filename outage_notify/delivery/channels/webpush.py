"""App push through Web Push: VAPID (RFC 8292) signed, payload encrypted (RFC 8291, aes128gcm).

One notification goes to each of the customer's subscriptions (their devices). A push service
answering 404 or 410 says the subscription is gone (RFC 8030 §7.3); it is then removed. Any
other refusal (413 payload too large, 429, 5xx, ...) says nothing about the subscription: the
message fails or is retried, and the device keeps its subscription.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import requests
from pywebpush import WebPushException, webpush

from outage_notify.config import Settings
from outage_notify.delivery.channels.base import (
    Channel,
    Outcome,
    OutgoingMessage,
    PushTarget,
    SendResult,
)
from outage_notify.delivery.channels.vapid import generate_vapid_keys as generate_vapid_keys
from outage_notify.delivery.channels.vapid import load_vapid_key

TTL_SECONDS = 12 * 3600  # news of an outage is stale after half a day


GONE_STATUSES = frozenset({404, 410})


def classify_push_status(status: int | None) -> Outcome:
    if status is None or status == 429 or status >= 500:
        return Outcome.RETRY
    if status in (401, 403):  # our VAPID key refused: configuration, keep the message
        return Outcome.RETRY
    return Outcome.FAILED


@dataclass(frozen=True)
class _DeviceAnswer:
    outcome: Outcome
    error: str | None = None
    gone: bool = False  # the push service says this subscription no longer exists


class WebPush(Channel):
    channel = "push"
    provider = "webpush"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._vapid = load_vapid_key(settings.vapid_private_key or "")
        self._local = threading.local()

    def _session(self) -> requests.Session:
        """One HTTP session per sending thread: connections to a push service are reused."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def payload(self, message: OutgoingMessage) -> str:
        return json.dumps(
            {
                "title": message.subject,
                "body": message.body,
                "kind": message.kind,
                "notification_id": message.notification_id,
                "lang": message.language,
            },
            ensure_ascii=False,
        )

    def send(self, message: OutgoingMessage) -> SendResult:
        if not message.push_targets:
            return self.result(Outcome.FAILED, error="no push subscription")
        data = self.payload(message)
        outcomes = [(target, self._send_one(target, data)) for target in message.push_targets]
        return self._combine(outcomes)

    def _send_one(self, target: PushTarget, data: str) -> _DeviceAnswer:
        try:
            webpush(
                subscription_info={
                    "endpoint": target.endpoint,
                    "keys": {"p256dh": target.p256dh, "auth": target.auth},
                },
                data=data,
                vapid_private_key=self._vapid,
                # pywebpush writes "aud" and "exp" into this dict: a fresh one every call.
                vapid_claims={"sub": self._settings.vapid_subject},
                ttl=TTL_SECONDS,
                timeout=self._settings.push_timeout_seconds,
                headers={"Urgency": "high"},
                requests_session=self._session(),
            )
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else None
            error = f"push service {status}: {exc.message}"
            return _DeviceAnswer(classify_push_status(status), error, status in GONE_STATUSES)
        except (requests.RequestException, OSError, ValueError) as exc:
            return _DeviceAnswer(Outcome.RETRY, f"push service unreachable: {exc}")
        return _DeviceAnswer(Outcome.SENT)

    def _combine(self, outcomes: list[tuple[PushTarget, _DeviceAnswer]]) -> SendResult:
        """Sent if any device took it; retried if any may still; failed when all refused."""
        gone = tuple(t.subscription_id for t, answer in outcomes if answer.gone)
        errors = "; ".join(a.error for _, a in outcomes if a.error)
        kinds = {a.outcome for _, a in outcomes}
        outcome = (
            Outcome.SENT
            if Outcome.SENT in kinds
            else (Outcome.RETRY if Outcome.RETRY in kinds else Outcome.FAILED)
        )
        sent = sum(1 for _, a in outcomes if a.outcome is Outcome.SENT)
        ref: Any = f"{sent}/{len(outcomes)} devices" if sent else None
        return SendResult(
            outcome=outcome,
            provider=self.provider,
            provider_ref=ref,
            error=errors or None,
            gone_subscriptions=gone,
        )
