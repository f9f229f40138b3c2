"""The outbox: claim due notifications under a lease, then write back what the provider said.

Claims use FOR UPDATE SKIP LOCKED where the database has it (PostgreSQL: many workers share the
queue); on SQLite the write lock taken at BEGIN makes the claimer single. A claim only leases a
message; the worker marks it in flight (start_sending) immediately before its provider call.
A claim taken over after its lease ran out is flagged a possible duplicate only if it was in
flight, since only then may it have reached the provider; one claimed but never started is
simply taken again.

Whether the customer may still be messaged is checked at the claim, the last moment before
sending: an opt-out (STOP) or an erasure after the message was planned suppresses it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from outage_notify.customers.contacts import Contact, ContactHasher
from outage_notify.customers.optouts import blocked
from outage_notify.db.among import among
from outage_notify.db.models import Customer, Notification, OutboxItem, PushSubscription
from outage_notify.db.types import UTCDateTime
from outage_notify.delivery.channels.base import Outcome, OutgoingMessage, PushTarget, SendResult
from outage_notify.timeline import service as timeline

MAX_BACKOFF = timedelta(hours=1)
STATUS_RANK = {"queued": 0, "sent": 1, "delivered": 2, "failed": 2, "suppressed": 2}
CONTACT_CHANNELS = ("sms", "email")


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float
    max_attempts: int

    def delay(self, attempt: int, rng: random.Random | None = None) -> timedelta:
        """Exponential backoff with jitter: half to all of base·2^(attempt-1), capped."""
        ceiling = min(self.base_seconds * 2 ** max(attempt - 1, 0), MAX_BACKOFF.total_seconds())
        return timedelta(seconds=ceiling * (rng or random).uniform(0.5, 1.0))


def claim(
    session: Session,
    *,
    worker: str,
    now: datetime,
    lease: timedelta,
    limit: int,
) -> list[OutgoingMessage]:
    """Leases up to `limit` due notifications to this worker and returns them."""
    due = session.execute(
        select(OutboxItem.notification_id, OutboxItem.in_flight_since, OutboxItem.attempts)
        .where(
            OutboxItem.available_at <= now,
            or_(OutboxItem.lease_expires_at.is_(None), OutboxItem.lease_expires_at < now),
        )
        .order_by(OutboxItem.priority.desc(), OutboxItem.available_at, OutboxItem.notification_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not due:
        return []
    ids = [row.notification_id for row in due]
    session.execute(
        update(OutboxItem)
        .where(among(OutboxItem.notification_id, ids))
        .values(lease_owner=worker, lease_expires_at=now + lease, in_flight_since=None)
    )
    _mark_possible_duplicates(session, [r.notification_id for r in due if r.in_flight_since], now)
    attempts = {row.notification_id: row.attempts + 1 for row in due}
    return _messages(session, ids, attempts)


def withhold_refused(
    session: Session,
    *,
    messages: Sequence[OutgoingMessage],
    hasher: ContactHasher,
    now: datetime,
) -> list[OutgoingMessage]:
    """The claimed messages that may still go out. One whose contact opted out or was erased
    since it was planned is suppressed with that reason instead: this is the last check
    before the provider call."""
    refused = _refused(session, hasher, messages)
    for reason in set(refused.values()):
        stale = [m for m in messages if refused.get(m.notification_id) == reason]
        suppress(session, [_row_of(m) for m in stale], reason=reason, now=now)
    return [m for m in messages if m.notification_id not in refused]


def start_sending(
    session: Session,
    *,
    worker: str,
    message: OutgoingMessage,
    hasher: ContactHasher,
    now: datetime,
) -> bool:
    """start_sending_many for one message."""
    ids = start_sending_many(session, worker=worker, messages=[message], hasher=hasher, now=now)
    return message.notification_id in ids


def start_sending_many(
    session: Session,
    *,
    worker: str,
    messages: Sequence[OutgoingMessage],
    hasher: ContactHasher,
    now: datetime,
) -> set[int]:
    """Marks claimed messages in flight, just before their provider calls, and returns the
    ids that may be sent. Left out: a message whose contact opted out or was erased since the
    claim (suppressed here, the last moment before sending), and one whose lease this worker
    no longer holds (another worker has taken it over: do not send it)."""
    free = withhold_refused(session, messages=messages, hasher=hasher, now=now)
    if not free:
        return set()
    marked = session.execute(
        update(OutboxItem)
        .where(
            among(OutboxItem.notification_id, [m.notification_id for m in free]),
            OutboxItem.lease_owner == worker,
            OutboxItem.lease_expires_at > now,
        )
        .values(in_flight_since=now)
        .returning(OutboxItem.notification_id)
    )
    return set(marked.scalars())


def renew(
    session: Session, *, worker: str, ids: Sequence[int], now: datetime, lease: timedelta
) -> None:
    """Keeps the lease on messages still being sent, so nobody else takes them over."""
    if ids:
        session.execute(
            update(OutboxItem)
            .where(among(OutboxItem.notification_id, list(ids)), OutboxItem.lease_owner == worker)
            .values(lease_expires_at=now + lease)
        )


def suppress(session: Session, rows: Sequence[Any], *, reason: str, now: datetime) -> None:
    """Takes queued notifications (id, customer_pk, channel, kind) off the queue, for a reason."""
    ids = [row.id for row in rows]
    if not ids:
        return
    session.execute(delete(OutboxItem).where(among(OutboxItem.notification_id, ids)))
    session.execute(
        update(Notification)
        .where(among(Notification.id, ids))
        .values(status="suppressed", reason=reason, updated_at=now)
    )
    timeline.log_events(
        session, timeline.message_status_events(rows, at=now, status="suppressed", reason=reason)
    )


@dataclass(frozen=True)
class _Row:
    id: int
    customer_pk: int
    channel: str
    kind: str


def _row_of(message: OutgoingMessage) -> _Row:
    return _Row(message.notification_id, message.customer_pk, message.channel, message.kind)


def _refused(
    session: Session, hasher: ContactHasher, messages: Iterable[OutgoingMessage]
) -> dict[int, str]:
    """Notification id → why its contact may no longer be messaged."""
    contacts = {
        m.notification_id: Contact(m.customer_id, m.channel, m.to_address)
        for m in messages
        if m.channel in CONTACT_CHANNELS and m.to_address
    }
    found = blocked(session, hasher=hasher, contacts=contacts.values())
    return {nid: found[c] for nid, c in contacts.items() if c in found}


def _mark_possible_duplicates(session: Session, ids: list[int], now: datetime) -> None:
    if not ids:
        return
    session.execute(
        update(Notification).where(among(Notification.id, ids)).values(possible_duplicate=True)
    )
    rows = session.execute(
        select(
            Notification.id, Notification.customer_pk, Notification.channel, Notification.kind
        ).where(among(Notification.id, ids))
    ).all()
    timeline.log_events(
        session,
        timeline.message_status_events(
            rows,
            at=now,
            status="queued",
            reason="a worker stopped while sending this; sent again, may arrive twice",
            data={"possible_duplicate": True},
        ),
    )


def _messages(session: Session, ids: list[int], attempts: dict[int, int]) -> list[OutgoingMessage]:
    rows = session.execute(
        select(
            Notification.id,
            Notification.customer_pk,
            Notification.channel,
            Notification.kind,
            Notification.language,
            Notification.to_address,
            Notification.subject,
            Notification.body,
            Notification.html,
            Customer.customer_id,
            Customer.name,
        )
        .join(Customer, Customer.id == Notification.customer_pk)
        .where(among(Notification.id, ids))
    ).all()
    push_pks = [r.customer_pk for r in rows if r.channel == "push"]
    targets = _push_targets(session, push_pks) if push_pks else {}
    return [
        OutgoingMessage(
            notification_id=r.id,
            customer_pk=r.customer_pk,
            customer_id=r.customer_id,
            channel=r.channel,
            kind=r.kind,
            language=r.language,
            to_address=r.to_address,
            to_name=r.name,
            subject=r.subject,
            body=r.body,
            html=r.html,
            attempt=attempts[r.id],
            push_targets=targets.get(r.customer_pk, ()) if r.channel == "push" else (),
        )
        for r in rows
    ]


def _push_targets(session: Session, pks: list[int]) -> dict[int, tuple[PushTarget, ...]]:
    found: dict[int, list[PushTarget]] = {}
    rows = session.execute(
        select(PushSubscription)
        .where(among(PushSubscription.customer_pk, pks))
        .order_by(PushSubscription.id)
    ).scalars()
    for sub in rows:
        found.setdefault(sub.customer_pk, []).append(
            PushTarget(sub.id, sub.endpoint, sub.p256dh, sub.auth)
        )
    return {pk: tuple(targets) for pk, targets in found.items()}


# ---- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    notification_id: int
    status: str
    needs_fallback: bool


Answer = tuple[OutgoingMessage, SendResult]


def record(
    session: Session,
    *,
    worker: str,
    message: OutgoingMessage,
    result: SendResult,
    policy: RetryPolicy,
    now: datetime,
) -> Recorded:
    """Writes one provider answer: the notification's status, the outbox row, the timeline."""
    answers = [(message, result)]
    return record_all(session, worker=worker, answers=answers, policy=policy, now=now)[0]


def record_all(
    session: Session,
    *,
    worker: str,
    answers: Sequence[Answer],
    policy: RetryPolicy,
    now: datetime,
) -> list[Recorded]:
    """Writes a batch of provider answers in a handful of statements, whatever its size:
    written one by one, the write-back cost more than the provider calls themselves.

    Only the worker that holds a message's lease may retry it or take it off the queue. An
    answer that comes back after the lease passed to another worker (which is sending the
    message again) is kept only if it says the message got through; whether to retry, or to
    give up, is then the new owner's call."""
    gone = [sid for _, result in answers for sid in result.gone_subscriptions]
    if gone:
        session.execute(delete(PushSubscription).where(among(PushSubscription.id, gone)))
    owned = _owned(session, worker, [m.notification_id for m, _ in answers])
    answers = [(m, r) for m, r in answers if m.notification_id in owned or _got_through(r)]
    retry = [(m, r) for m, r in answers if _retries(m, r, policy)]
    final = [(m, _final(m, r)) for m, r in answers if not _retries(m, r, policy)]
    recorded = [_schedule_retry(session, m, r, policy, now) for m, r in retry]
    if final:
        ids = [m.notification_id for m, _ in final if m.notification_id in owned]
        session.execute(delete(OutboxItem).where(among(OutboxItem.notification_id, ids)))
        recorded += _finish(session, final, now)
    return recorded


def _owned(session: Session, worker: str, ids: list[int]) -> set[int]:
    return set(
        session.scalars(
            select(OutboxItem.notification_id).where(
                among(OutboxItem.notification_id, ids), OutboxItem.lease_owner == worker
            )
        )
    )


def _got_through(result: SendResult) -> bool:
    return result.outcome in (Outcome.SENT, Outcome.DELIVERED)


def _retries(message: OutgoingMessage, result: SendResult, policy: RetryPolicy) -> bool:
    return result.outcome is Outcome.RETRY and message.attempt < policy.max_attempts


def _final(message: OutgoingMessage, result: SendResult) -> SendResult:
    if result.outcome is not Outcome.RETRY:
        return result
    return SendResult(
        outcome=Outcome.FAILED,
        provider=result.provider,
        error=f"gave up after {message.attempt} attempts: {result.error}",
    )


NOTIFICATIONS = Notification.metadata.tables[Notification.__tablename__]
_N = NOTIFICATIONS.c
# One statement for a whole batch, executed with a row of values per message (Core, so the
# ORM does not try to match each row to an object). NULL means "leave as it is".
_FINISH = (
    update(NOTIFICATIONS)
    .where(_N.id == bindparam("b_id"))
    .values(
        status=func.coalesce(bindparam("b_status"), _N.status),
        reason=func.coalesce(bindparam("b_reason"), _N.reason),
        provider=bindparam("b_provider"),
        provider_ref=func.coalesce(bindparam("b_ref"), _N.provider_ref),
        attempts=bindparam("b_attempts"),
        sent_at=func.coalesce(_N.sent_at, bindparam("b_sent", type_=UTCDateTime())),
        delivered_at=func.coalesce(bindparam("b_delivered", type_=UTCDateTime()), _N.delivered_at),
        updated_at=bindparam("b_now", type_=UTCDateTime()),
    )
)


def _finish(session: Session, final: list[Answer], now: datetime) -> list[Recorded]:
    ids = [m.notification_id for m, _ in final]
    found = session.execute(
        select(Notification.id, Notification.status).where(among(Notification.id, ids))
    )
    current: dict[int, str] = {nid: status for nid, status in found}  # noqa: C416
    rows, events, recorded = [], [], []
    for message, result in final:
        status = result.outcome.value
        reason = result.error if result.outcome is Outcome.FAILED else None
        moved = message.notification_id in current and _moves(
            current[message.notification_id], status
        )
        rows.append(
            {
                "b_id": message.notification_id,
                "b_status": status if moved else None,
                "b_reason": reason if moved else None,
                "b_provider": result.provider,
                "b_ref": result.provider_ref,
                "b_attempts": message.attempt,
                "b_sent": now if moved and status in ("sent", "delivered") else None,
                "b_delivered": now if moved and status == "delivered" else None,
                "b_now": now,
            }
        )
        if moved:
            events.append(_status_event(message, status, reason, now))
        recorded.append(Recorded(message.notification_id, status, moved and status == "failed"))
    session.execute(_FINISH, rows)
    timeline.log_events(session, events)
    return recorded


def _status_event(
    message: OutgoingMessage, status: str, reason: str | None, now: datetime
) -> timeline.Event:
    return timeline.Event(
        customer_pk=message.customer_pk,
        at=now,
        type=timeline.MESSAGE_STATUS,
        notification_id=message.notification_id,
        channel=message.channel,
        kind=message.kind,
        status=status,
        reason=reason,
    )


def _moves(current: str, new: str) -> bool:
    """Forward only: queued → sent → delivered | failed; final states stay."""
    return STATUS_RANK[new] > STATUS_RANK[current]


def _schedule_retry(
    session: Session,
    message: OutgoingMessage,
    result: SendResult,
    policy: RetryPolicy,
    now: datetime,
) -> Recorded:
    retry_at = now + policy.delay(message.attempt)
    session.execute(
        update(OutboxItem)
        .where(OutboxItem.notification_id == message.notification_id)  # owned: record_all
        .values(
            available_at=retry_at,
            attempts=message.attempt,
            lease_owner=None,
            lease_expires_at=None,
            in_flight_since=None,
            last_error=result.error,
        )
    )
    session.execute(
        update(Notification)
        .where(Notification.id == message.notification_id)
        .values(attempts=message.attempt, reason=f"retrying: {result.error}", updated_at=now)
    )
    timeline.log_event(
        session,
        timeline.Event(
            customer_pk=message.customer_pk,
            at=now,
            type=timeline.MESSAGE_STATUS,
            notification_id=message.notification_id,
            channel=message.channel,
            kind=message.kind,
            status="queued",
            # A delay, not a clock time: people read this in their own zone, and it has none.
            reason=f"attempt {message.attempt} failed ({result.error}); "
            f"retrying in {_seconds(retry_at - now)}",
        ),
    )
    return Recorded(message.notification_id, "queued", False)


def _seconds(delay: timedelta) -> str:
    seconds = delay.total_seconds()
    return f"{seconds:.1f} s" if seconds < 10 else f"{round(seconds)} s"


def set_status(
    session: Session,
    *,
    notification_id: int,
    status: str,
    now: datetime,
    reason: str | None = None,
    provider: str | None = None,
    provider_ref: str | None = None,
    attempts: int | None = None,
) -> bool:
    """Moves a notification forward (queued → sent → delivered | failed), never back: a late
    "sent" must not undo a receipt that already said "delivered". Logs the move; True if moved."""
    current = session.execute(
        select(
            Notification.status, Notification.customer_pk, Notification.channel, Notification.kind
        ).where(Notification.id == notification_id)
    ).one_or_none()
    if current is None:
        return False
    values: dict[str, object] = {"updated_at": now}
    if provider is not None:
        values["provider"] = provider
    if provider_ref is not None:
        values["provider_ref"] = provider_ref
    if attempts is not None:
        values["attempts"] = attempts
    moved = _moves(current.status, status)
    if moved:
        values.update(_status_values(status, reason, now))
    session.execute(update(Notification).where(Notification.id == notification_id).values(**values))
    if moved:
        timeline.log_event(
            session,
            timeline.Event(
                customer_pk=current.customer_pk,
                at=now,
                type=timeline.MESSAGE_STATUS,
                notification_id=notification_id,
                channel=current.channel,
                kind=current.kind,
                status=status,
                reason=reason,
            ),
        )
    return moved


def _status_values(status: str, reason: str | None, now: datetime) -> dict[str, object]:
    values: dict[str, object] = {"status": status, "reason": reason}
    if status in ("sent", "delivered"):
        values["sent_at"] = func.coalesce(Notification.sent_at, now)
    if status == "delivered":
        values["delivered_at"] = now
    return values


def backlog(session: Session, *, now: datetime) -> dict[str, int]:
    """Outbox depth: due now, held for later, and in flight."""
    due = session.scalar(
        select(func.count()).select_from(OutboxItem).where(OutboxItem.available_at <= now)
    )
    total = session.scalar(select(func.count()).select_from(OutboxItem))
    in_flight = session.scalar(
        select(func.count()).select_from(OutboxItem).where(OutboxItem.in_flight_since.is_not(None))
    )
    return {"due": due or 0, "held": (total or 0) - (due or 0), "in_flight": in_flight or 0}
