"""The dispatcher drains the outbox: claim a batch (short transaction), call providers with no
session open, write each answer back (short transactions), repeat.

Runs in a thread inside `serve`, or alone as `outage-notify worker`; several workers can share a
PostgreSQL outbox. Leases are renewed while a batch is still sending, so a slow provider does
not let a second worker take over messages that are in fact being sent.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from outage_notify.clock import SYSTEM_CLOCK, Clock
from outage_notify.config import Settings
from outage_notify.customers.contacts import ContactHasher
from outage_notify.db.engine import transaction
from outage_notify.db.models import Notification
from outage_notify.delivery import outbox
from outage_notify.delivery.channels.base import Channel, Outcome, OutgoingMessage, SendResult
from outage_notify.delivery.inflight import InFlightMarks
from outage_notify.delivery.limits import ChannelLimits
from outage_notify.delivery.metrics import record_send
from outage_notify.planning.fallback import plan_fallback
from outage_notify.planning.messages import MessageRenderer

log = logging.getLogger(__name__)
WRITE_EVERY_SECONDS = 0.2
MAX_ERROR = 400  # characters of a provider's error kept in a reason (columns hold 500)
WRITE_RETRY_FIRST_SECONDS = 0.5
WRITE_RETRY_MAX_SECONDS = 10.0


class Dispatcher:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        channels: dict[str, Channel],
        renderer: MessageRenderer,
        settings: Settings,
        hasher: ContactHasher,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._marks = InFlightMarks(self._write_marks)
        self._claimed: dict[int, OutgoingMessage] = {}  # the batch being sent, by id
        self._hasher = hasher
        self._channels = channels
        self._renderer = renderer
        self._settings = settings
        self._policy = outbox.RetryPolicy(settings.retry_base_seconds, settings.max_attempts)
        self._lease = timedelta(seconds=settings.lease_seconds)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._limits = ChannelLimits.from_settings(settings, sessions)
        self._pool = ThreadPoolExecutor(settings.dispatch_threads, thread_name_prefix="send")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_beat: float | None = None

    # ---- running -----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="dispatcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)
        for channel in self._channels.values():
            channel.close()

    def wake(self) -> None:
        """New messages were committed: look now rather than at the next idle tick."""
        self._wake.set()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.last_beat = time.monotonic()
            try:
                handled = self.run_once()
            except Exception:  # a bad batch must not stop delivery for everyone else
                log.exception("dispatcher batch failed; continuing")
                handled = 0
            if handled == 0:
                self._wake.wait(self._settings.dispatch_idle_seconds)
                self._wake.clear()

    def drain(self, *, timeout: float = 60.0) -> int:
        """Sends everything due now, then returns (tests, the demo, `worker --once`)."""
        deadline = time.monotonic() + timeout
        total = 0
        while time.monotonic() < deadline:
            handled = self.run_once()
            total += handled
            if handled == 0:
                return total
        raise TimeoutError(f"outbox not drained after {timeout} s ({total} sent)")

    # ---- one batch ---------------------------------------------------------------------------

    def run_once(self) -> int:
        with transaction(self._sessions) as session:
            messages = outbox.claim(
                session,
                worker=self.worker_id,
                now=self._clock.now(),
                lease=self._lease,
                limit=self._settings.dispatch_batch_size,
            )
            to_send = outbox.withhold_refused(
                session, messages=messages, hasher=self._hasher, now=self._clock.now()
            )
        if not to_send:
            return len(messages)
        self._claimed = {m.notification_id: m for m in to_send}
        futures = {self._pool.submit(self._send, m): m for m in to_send}
        self._collect(futures)
        return len(messages)

    def _send(self, message: OutgoingMessage) -> SendResult | None:
        """The provider's answer; None when the message was not sent because another worker
        has taken it over (this worker's lease ran out): that worker writes its fate."""
        channel = self._channels.get(message.channel)
        if channel is None:
            return SendResult(Outcome.FAILED, "none", error=f"no channel {message.channel!r}")
        with self._limits.slot(message.channel):
            if channel.reaches_people:
                self._limits.wait_turn(message.channel)  # before the mark: waiting sends nothing
                started = self._start(message)
                if started is None or isinstance(started, SendResult):
                    return started
            began = time.monotonic()
            try:
                result = channel.send(message)
            except Exception as exc:  # a channel bug is a retry, never a lost message
                log.exception("channel %s raised", message.channel)
                result = SendResult(Outcome.RETRY, channel.provider, error=f"internal error: {exc}")
        record_send(
            message.channel, result.provider, result.outcome.value, time.monotonic() - began
        )
        return _with_short_error(result)

    def _start(self, message: OutgoingMessage) -> SendResult | bool | None:
        """Marks the message in flight right before its provider call: after a crash, only
        marked messages are sent again and flagged. True: go ahead; None: the lease is lost;
        a result: the mark could not be written, so the message is not sent now."""
        try:
            ours = self._marks.mark(message.notification_id)
        except OperationalError as exc:
            return SendResult(Outcome.RETRY, "none", error=f"not sent: database busy ({exc})")
        return True if ours else None

    def _write_marks(self, ids: Sequence[int]) -> set[int]:
        messages = [self._claimed[i] for i in ids]
        with transaction(self._sessions) as session:
            return outbox.start_sending_many(
                session,
                worker=self.worker_id,
                messages=messages,
                hasher=self._hasher,
                now=self._clock.now(),
            )

    def _collect(self, futures: dict[Future[SendResult | None], OutgoingMessage]) -> None:
        pending = set(futures)
        done_batch: list[tuple[OutgoingMessage, SendResult]] = []
        last_renew = time.monotonic()
        while pending:
            self.last_beat = time.monotonic()  # a long batch is alive, not stuck
            done, pending = wait(pending, timeout=WRITE_EVERY_SECONDS, return_when=FIRST_COMPLETED)
            done_batch.extend((futures[f], r) for f in done if (r := f.result()) is not None)
            if done_batch and (not pending or len(done_batch) >= 50 or not done):
                self._write(done_batch, sending=[futures[f].notification_id for f in pending])
                done_batch = []
            if pending and time.monotonic() - last_renew > self._lease.total_seconds() / 3:
                self._renew([futures[f].notification_id for f in pending])
                last_renew = time.monotonic()
        if done_batch:
            self._write(done_batch)

    def _renew(self, ids: list[int]) -> None:
        """Best effort: a renewal that cannot get the database is tried again next round."""
        try:
            with transaction(self._sessions) as session:
                outbox.renew(
                    session,
                    worker=self.worker_id,
                    ids=ids,
                    now=self._clock.now(),
                    lease=self._lease,
                )
        except OperationalError as exc:
            log.warning("lease renewal of %d messages failed: %s", len(ids), exc)

    def _write(
        self, results: list[tuple[OutgoingMessage, SendResult]], sending: Sequence[int] = ()
    ) -> None:
        """Writes the providers' answers back, however long the database keeps us waiting.

        These messages have left: giving up here would let their lease run out and another
        claim send them again. Writing back twice is harmless (statuses only move forward),
        so a database that is locked or unreachable is simply tried again.
        """
        delay = WRITE_RETRY_FIRST_SECONDS
        while True:
            try:
                self._write_once(results)
                return
            except OperationalError as exc:
                log.warning("writing back %d results failed (%s); retrying", len(results), exc)
                # Keep what is still ours: a lease lost while waiting here would let another
                # worker send these messages again.
                self._renew([m.notification_id for m, _ in results] + list(sending))
                self.last_beat = time.monotonic()
                self._stop.wait(delay)
                delay = min(delay * 2, WRITE_RETRY_MAX_SECONDS)

    def _write_once(self, results: list[tuple[OutgoingMessage, SendResult]]) -> None:
        now = self._clock.now()
        with transaction(self._sessions) as session:
            recorded = outbox.record_all(
                session, worker=self.worker_id, answers=results, policy=self._policy, now=now
            )
            for each in recorded:
                if each.needs_fallback:
                    self._fallback(session, each.notification_id, now)

    def _fallback(self, session: Session, notification_id: int, now: datetime) -> None:
        failed = session.get(Notification, notification_id)
        if failed is not None and plan_fallback(
            session, failed=failed, renderer=self._renderer, hasher=self._hasher, now=now
        ):
            self.wake()


def _with_short_error(result: SendResult) -> SendResult:
    """A provider's error text can hold its whole response body; reasons are kept to a size a
    database column takes (with room for our own words around it)."""
    if result.error is None or len(result.error) <= MAX_ERROR:
        return result
    return replace(result, error=result.error[: MAX_ERROR - 1] + "…")
