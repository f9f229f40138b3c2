"""A local stand-in of Twilio's REST API, enough for the official SDK to send SMS through it.

Answers POST /2010-04-01/Accounts/{sid}/Messages.json like Twilio does (HTTP Basic auth with
the account SID and auth token, form-encoded body, 201 with a Message resource whose fields are
the ones Twilio's OpenAPI description lists). Tests can inject faults (an HTTP status with a
Twilio error code, for the next N calls or a fraction of calls) and can play delivery receipts:
a status callback signed with X-Twilio-Signature, POSTed to the StatusCallback URL.
"""

from __future__ import annotations

import base64
import json
import random
import re
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from twilio.request_validator import RequestValidator

PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC[0-9a-f]{32})/Messages\.json$")


@dataclass
class Fault:
    status: int
    code: int
    message: str = "injected fault"


@dataclass
class TwilioStandIn:
    account_sid: str
    auth_token: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    faults: list[Fault] = field(default_factory=list)  # consumed one per request
    failure_rate: float = 0.0
    failure: Fault = field(default_factory=lambda: Fault(503, 20500, "service unavailable"))
    delay: float = 0.0  # seconds each accepted message waits before it is answered
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> TwilioStandIn:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                status, body = stand_in.handle(self.path, self.headers, self._form())
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _form(self) -> dict[str, str]:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                return dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))

            def log_message(self, *_: Any) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # ---- the API -------------------------------------------------------------------------

    def handle(self, path: str, headers: Any, form: dict[str, str]) -> tuple[int, dict]:
        with self.lock:
            self.requests += 1
        match = PATH.match(path)
        if not match:
            return 404, _error(20404, "The requested resource was not found", 404)
        if not self._authorised(headers, match["sid"]):
            return 401, _error(20003, "Authenticate", 401)
        fault = self._fault()
        if fault is not None:
            return fault.status, _error(fault.code, fault.message, fault.status)
        if not form.get("To"):
            return 400, _error(21604, "A 'To' phone number is required.", 400)
        if not form.get("Body"):
            return 400, _error(21602, "Message body is required.", 400)
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return 400, _error(21603, "A 'From' phone number is required.", 400)
        message = self._message(match["sid"], form)
        with self.lock:
            self.messages.append({**message, "_form": form})
        if self.delay:
            # Recorded first, answered later: a client killed meanwhile has still sent it.
            time.sleep(self.delay)
        return 201, message

    def _authorised(self, headers: Any, sid: str) -> bool:
        auth = headers.get("Authorization") or ""
        if not auth.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        return user == self.account_sid == sid and password == self.auth_token

    def _fault(self) -> Fault | None:
        with self.lock:
            if self.faults:
                return self.faults.pop(0)
            if self.failure_rate and self.rng.random() < self.failure_rate:
                return self.failure
        return None

    def _message(self, account_sid: str, form: dict[str, str]) -> dict[str, Any]:
        sid = "SM" + uuid.uuid4().hex
        now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        return {
            "account_sid": account_sid,
            "api_version": "2010-04-01",
            "body": form["Body"],
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued" if form.get("MessagingServiceSid") is None else "accepted",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media.json"
            },
            "to": form["To"],
            "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
        }

    # ---- receipts ------------------------------------------------------------------------

    def send_receipt(
        self,
        message: dict[str, Any],
        status: str,
        error_code: str | None = None,
        *,
        sign: bool = True,
    ) -> int:
        """POSTs a status callback for a message the way Twilio does; returns the HTTP status."""
        url = message["_form"]["StatusCallback"]
        params = {
            "MessageSid": message["sid"],
            "SmsSid": message["sid"],
            "AccountSid": self.account_sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "To": message["to"],
            "From": message["from"] or "",
            "ApiVersion": "2010-04-01",
        }
        if error_code:
            params["ErrorCode"] = error_code
        return post_signed(url, params, self.auth_token if sign else "wrong-token")


class _QuietServer(ThreadingHTTPServer):
    # Hundreds of senders connect at once in the throughput bench; the default backlog of 5
    # drops their SYNs and each dropped one waits a second for the retry.
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client killed mid-request (the crash tests do that) is expected, not news.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def post_signed(url: str, params: dict[str, str], auth_token: str) -> int:
    signature = RequestValidator(auth_token).compute_signature(url, params)
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(params).encode(),
        headers={
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _error(code: int, message: str, status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def signature_headers(url: str, params: dict[str, str], auth_token: str) -> dict[str, str]:
    """The X-Twilio-Signature header Twilio would send for a form POST to url."""
    return {"X-Twilio-Signature": RequestValidator(auth_token).compute_signature(url, params)}
