"""Email over SMTP: multipart plain text + HTML, one connection per sending thread, reused."""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import threading
import time
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from outage_notify.config import Settings
from outage_notify.delivery.channels.base import Channel, Outcome, OutgoingMessage, SendResult
from outage_notify.ingest.text import one_line

IDLE_CHECK_SECONDS = 20.0


def classify_smtp_code(code: int) -> Outcome:
    return Outcome.RETRY if 400 <= code < 500 else Outcome.FAILED


class SmtpEmail(Channel):
    channel = "email"
    provider = "smtp"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._local = threading.local()

    def build(self, message: OutgoingMessage) -> EmailMessage:
        """Headers are built from structured values by the standard library (it quotes and
        encodes names), never by pasting text: a name or an address can add no header."""
        email = EmailMessage()
        email["From"] = _address(*parseaddr(self._settings.smtp_from))
        email["To"] = _address(message.to_name, message.to_address or "")
        email["Subject"] = one_line(message.subject or "")
        email["Date"] = formatdate(localtime=False)
        domain = self._settings.smtp_from.rpartition("@")[2] or "localhost"
        email["Message-ID"] = make_msgid(idstring=f"n{message.notification_id}", domain=domain)
        email["Content-Language"] = message.language
        email["X-Outage-Notify-Id"] = str(message.notification_id)
        email["Auto-Submitted"] = "auto-generated"  # no out-of-office replies, please
        email.set_content(message.body)
        if message.html:
            email.add_alternative(message.html, subtype="html")
        return email

    def send(self, message: OutgoingMessage) -> SendResult:
        if not message.to_address:
            return self.result(Outcome.FAILED, error="no email address")
        try:
            email = self.build(message)
        except (ValueError, TypeError) as exc:  # an address the header classes refuse
            return self.result(Outcome.FAILED, error=f"cannot address this email: {exc}")
        try:
            refused = self._connection().send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            return self.result(classify_smtp_code(code), error=f"SMTP {code}: {_text(reply)}")
        except smtplib.SMTPSenderRefused as exc:
            self._drop()  # our sender address refused: configuration, keep the message
            return self.result(Outcome.RETRY, error=f"SMTP sender refused {exc.smtp_code}")
        except smtplib.SMTPResponseException as exc:
            self._drop()
            outcome = classify_smtp_code(exc.smtp_code)
            return self.result(outcome, error=f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}")
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            return self.result(Outcome.RETRY, error=f"SMTP connection: {exc}")
        if refused:
            code, reply = next(iter(refused.values()))
            return self.result(classify_smtp_code(code), error=f"SMTP {code}: {_text(reply)}")
        return self.result(Outcome.SENT, ref=str(email["Message-ID"]))

    def _connection(self) -> smtplib.SMTP:
        conn: smtplib.SMTP | None = getattr(self._local, "conn", None)
        idle = time.monotonic() - getattr(self._local, "used", 0.0)
        # A connection in steady use is alive; one idle for a while may have been dropped
        # by the server: ask (NOOP) only then, not before every message.
        if conn is not None and (idle < IDLE_CHECK_SECONDS or _alive(conn)):
            self._local.used = time.monotonic()
            return conn
        conn = smtplib.SMTP(
            self._settings.smtp_host or "localhost",
            self._settings.smtp_port,
            timeout=self._settings.smtp_timeout_seconds,
        )
        try:
            if self._settings.smtp_starttls:
                conn.starttls(context=ssl.create_default_context())
            if self._settings.smtp_username:
                conn.login(self._settings.smtp_username, self._settings.smtp_password or "")
        except BaseException:
            conn.close()
            raise
        self._local.conn = conn
        self._local.used = time.monotonic()
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()
        self._local.conn = None


def _address(name: str | None, addr_spec: str) -> Address:
    return Address(display_name=one_line(name or "").strip(), addr_spec=addr_spec)


def _alive(conn: smtplib.SMTP) -> bool:
    try:
        return conn.noop()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
