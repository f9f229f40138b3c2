"""Planning writes what the decision table decided: notifications, their outbox rows and the
timeline entries, in the caller's transaction (the one that records the incident change).

The dedup key is unique in the database, and rows are inserted with ON CONFLICT DO NOTHING:
a message that was already planned is never planned twice, whoever retries what.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ARRAY, Integer, Row, any_, bindparam, func, select, text, update
from sqlalchemy.orm import Session

from outage_notify.config import Settings
from outage_notify.customers.contacts import ContactHasher
from outage_notify.customers.optouts import blocked, contacts_of
from outage_notify.db.among import among
from outage_notify.db.bulk import insert_rows
from outage_notify.db.engine import upsert_insert
from outage_notify.db.models import (
    Customer,
    Incident,
    IncidentCustomer,
    Notification,
    OutboxItem,
    PushSubscription,
)
from outage_notify.delivery.outbox import suppress
from outage_notify.incidents.compensation import PERCENTS
from outage_notify.incidents.model import IncidentValue, MessageKind, Status, value_of
from outage_notify.planning.messages import MessageRenderer, Rendered
from outage_notify.planning.rules import (
    CLOSING,
    OPENING,
    SUPERSEDES,
    WITHDRAWALS,
    ChannelIntent,
    CustomerState,
    Lifecycle,
    Preferences,
    QuietHours,
    channel_plan,
    decide,
    dedup_key,
    deferrable,
)
from outage_notify.timeline import service as timeline

CHUNK = 1000
OUTBOX = OutboxItem.metadata.tables[OutboxItem.__tablename__]
NOTIFICATIONS = Notification.metadata.tables[Notification.__tablename__]
# Claimed first: news of a live outage.
URGENT = frozenset(
    {
        MessageKind.OUTAGE,
        MessageKind.RESTORED,
        MessageKind.ETR_UPDATE,
        MessageKind.ETR_MISSED,
        MessageKind.CANCELLED,
    }
)


@dataclass(frozen=True)
class Audience:
    """A customer whose relation to the incident may call for a message now."""

    customer_pk: int
    state: CustomerState


TIE_STATE = (
    IncidentCustomer.customer_pk,
    IncidentCustomer.affected,
    IncidentCustomer.planned_affected,
    IncidentCustomer.planned_version,
    IncidentCustomer.told_version,
    IncidentCustomer.told_etr,
    IncidentCustomer.told_starts_at,
    IncidentCustomer.last_told_at,
    IncidentCustomer.reminded_at,
    IncidentCustomer.compensation_percent,
    IncidentCustomer.compensation_told,
    IncidentCustomer.told_severity,
)


def state_of(tie: Any) -> CustomerState:
    told = tie.told_version is not None
    return CustomerState(
        affected_now=bool(tie.affected),
        affected_before=bool(tie.planned_affected),
        told=told,
        told_etr=tie.told_etr if told else None,
        told_starts_at=tie.told_starts_at if told else None,
        last_told_at=tie.last_told_at if told else None,
        reminded=tie.reminded_at is not None,
        compensation_percent=tie.compensation_percent,
        compensation_told=tie.compensation_told is not None,
        told_severity=tie.told_severity if told else None,
    )


@dataclass(frozen=True)
class Planner:
    renderer: MessageRenderer
    settings: Settings
    hasher: ContactHasher

    def plan_incident(
        self,
        session: Session,
        *,
        incident: Incident,
        audience: Sequence[Audience],
        now: datetime,
    ) -> int:
        """Decides and writes every message this incident change calls for; returns how many
        messages were written."""
        value = value_of(incident)
        if value.warning:
            _withdraw_advisories(session, incident.id, value, audience, now)
        threshold = timedelta(minutes=self.settings.etr_change_minutes)
        lifecycle = self.lifecycle
        decisions = [
            (member, kind)
            for member in audience
            if (
                kind := decide(
                    value, member.state, etr_threshold=threshold, now=now, lifecycle=lifecycle
                )
            )
            is not None
        ]
        return sum(
            self._plan_chunk(session, incident, value, decisions[start : start + CHUNK], now)
            for start in range(0, len(decisions), CHUNK)
        )

    @property
    def lifecycle(self) -> Lifecycle:
        return Lifecycle(
            etr_grace=timedelta(minutes=self.settings.etr_grace_minutes),
            reassure_after=timedelta(hours=self.settings.reassure_hours),
            zone=self.settings.zone,
        )

    def _plan_chunk(
        self,
        session: Session,
        incident: Incident,
        value: IncidentValue,
        decisions: list[tuple[Audience, MessageKind]],
        now: datetime,
    ) -> int:
        pks = [member.customer_pk for member, _ in decisions]
        customers = _load_customers(session, pks)
        prefs = _preferences(session, self.hasher, customers)
        _supersede(session, incident.id, decisions, now)
        reached = _channels_reached(session, incident.id, decisions)
        rows: list[dict[str, Any]] = []
        for member, kind in decisions:
            customer = customers[member.customer_pk]
            later = _later(value, member.state) if kind is MessageKind.ETR_UPDATE else None
            send_from = self.send_from(kind, value, bool(customer.priority), now)
            intents = channel_plan(
                kind,
                prefs[customer.id],
                now=send_from,
                zone=self.settings.zone,
                deferrable=deferrable(kind, value),
                expires=value.ends_at if value.warning else None,
            )
            if send_from > now:
                intents = [_held_until(intent, send_from) for intent in intents]
            if kind in WITHDRAWALS:
                intents = [_only_if_reached(i, reached.get(customer.id, set())) for i in intents]
            rows.extend(
                self._notification_row(
                    incident,
                    kind,
                    customer,
                    intent,
                    value,
                    now,
                    later,
                    self.compensation_of(kind, member.state),
                )
                for intent in intents
            )
        # A planning step holds its job's row lock: nobody else writes this incident's keys.
        written = write_notifications(session, rows, now=now, sole_writer=True)
        _record_told(session, incident, value, decisions, now)
        return len(written)

    def compensation_of(
        self, kind: MessageKind, state: CustomerState
    ) -> tuple[int | None, int | None]:
        """(band %, its threshold in hours) for the messages that name it: the compensation
        notice, and the restoration of a long outage (its final band)."""
        percent = state.compensation_percent
        if kind not in (MessageKind.COMPENSATION, MessageKind.RESTORED) or percent is None:
            return None, None
        threshold = dict(zip(PERCENTS, self.settings.compensation_hours, strict=True))[percent]
        return percent, int(threshold)

    def send_from(
        self, kind: MessageKind, value: IncidentValue, priority: bool, now: datetime
    ) -> datetime:
        """Planned work is announced PLANNED_NOTICE_HOURS before it starts
        (PRIORITY_NOTICE_HOURS for priority customers), or at once when that has passed."""
        if kind is not MessageKind.PLANNED_NOTICE or value.starts_at is None:
            return now
        hours = (
            self.settings.priority_notice_hours if priority else self.settings.planned_notice_hours
        )
        return max(now, value.starts_at - timedelta(hours=hours))

    def _notification_row(
        self,
        incident: Incident,
        kind: MessageKind,
        customer: Row[Any],
        intent: ChannelIntent,
        text: IncidentValue,
        now: datetime,
        later: bool | None,
        compensation: tuple[int | None, int | None],
    ) -> dict[str, Any]:
        percent, hours = compensation
        rendered = self.renderer.render(
            kind=kind,
            channel=intent.channel,
            language=customer.language,
            incident=text,
            now=now,
            address=customer.address,
            later=later,
            compensation_percent=percent,
            outage_hours=hours,
        )
        row = notification_row(
            customer_pk=customer.id,
            incident_id=incident.id,
            kind=kind,
            version=incident.version,
            channel=intent.channel,
            language=customer.language,
            to_address=_address_for(intent.channel, customer),
            rendered=rendered,
            intent=intent,
            now=now,
            later=later,
        )
        # Claimed first: news of a live outage, and people whose life or whose service to
        # others depends on power.
        row["priority"] = (10 if kind in URGENT else 0) + (5 if customer.priority else 0)
        return row


def notification_row(
    *,
    customer_pk: int,
    incident_id: str,
    kind: MessageKind,
    version: int,
    channel: str,
    language: str,
    to_address: str | None,
    rendered: Rendered,
    intent: ChannelIntent,
    now: datetime,
    fallback_of: int | None = None,
    later: bool | None = None,
) -> dict[str, Any]:
    status, provider, delivered_at = "queued", None, None
    if intent.suppressed_reason:
        status = "suppressed"
    elif channel == "in_app":
        # The in-app feed is the notification itself: stored is delivered.
        status, provider, delivered_at = "delivered", "in_app", now
    return {
        "customer_pk": customer_pk,
        "incident_id": incident_id,
        "channel": channel,
        "kind": kind.value,
        "dedup_key": dedup_key(
            incident_id=incident_id,
            customer_pk=customer_pk,
            kind=kind.value,
            version=version,
            channel=channel,
        ),
        "language": language,
        "to_address": to_address,
        "subject": rendered.subject,
        "body": rendered.body,
        "html": rendered.html,
        "status": status,
        "reason": intent.suppressed_reason,
        "provider": provider,
        "sms_segments": rendered.sms.segments if rendered.sms else None,
        "sms_encoding": rendered.sms.encoding if rendered.sms else None,
        "attempts": 0,
        "possible_duplicate": False,
        "fallback_of": fallback_of,
        "render_args": {"version": version, "later": later},
        "not_before": intent.not_before,
        "created_at": now,
        "updated_at": now,
        "delivered_at": delivered_at,
    }


NOTIFICATION_COLUMNS = frozenset(c.name for c in Notification.__table__.columns) - {"id"}


def write_notifications(
    session: Session, rows: list[dict[str, Any]], *, now: datetime, sole_writer: bool = False
) -> list[dict[str, Any]]:
    """Inserts notifications whose dedup key is new; queues them and logs them on the
    timeline. Returns the rows that were written (a known dedup key writes nothing).

    sole_writer: no other transaction can be writing these dedup keys now (a planning step,
    which holds its job's row lock), so on PostgreSQL the keys already present are looked up
    and the rest streamed in by COPY, which has no ON CONFLICT."""
    if not rows:
        return []
    values = [{k: v for k, v in row.items() if k in NOTIFICATION_COLUMNS} for row in rows]
    if session.get_bind().dialect.name != "postgresql":
        ids = _insert_returning(session, values)
    elif sole_writer:
        ids = _copy_new(session, values)
    else:
        ids = _insert_numbered(session, values)
    written = [{**row, "id": ids[row["dedup_key"]]} for row in rows if row["dedup_key"] in ids]
    _queue(session, written, now)
    timeline.log_events(session, (_message_event(row) for row in written))
    return written


def _insert_returning(session: Session, values: list[dict[str, Any]]) -> dict[str, int]:
    """Dedup key → id of the rows inserted (SQLite: RETURNING per batch)."""
    table = Notification.__table__
    statement = (
        upsert_insert(session)(table)
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(table.c.id, table.c.dedup_key)
    )
    ids: dict[str, int] = {}
    for start in range(0, len(values), CHUNK):
        for nid, key in session.execute(statement, values[start : start + CHUNK]):
            ids[key] = nid
    return ids


NEXT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('notifications', 'id')) FROM generate_series(1, :n)"
)


def _insert_numbered(session: Session, values: list[dict[str, Any]]) -> dict[str, int]:
    """PostgreSQL: ids are drawn from the sequence first, rows go in by the driver's
    pipelined executemany (one short prepared statement), and the ids found afterwards are the
    rows that went in: a known dedup key kept its own row and id. (INSERT … RETURNING over a
    batch would need one statement with thousands of placeholders, which the driver parses
    afresh every time: slower than the database's own work.)"""
    table = Notification.__table__
    drawn = session.scalars(NEXT_IDS, {"n": len(values)}).all()
    numbered = [{**value, "id": nid} for value, nid in zip(values, drawn, strict=True)]
    session.execute(
        upsert_insert(session)(table).on_conflict_do_nothing(index_elements=["dedup_key"]),
        numbered,
    )
    kept = set(
        session.scalars(
            select(table.c.id).where(table.c.id == any_(bindparam("ids", type_=ARRAY(Integer)))),
            {"ids": list(drawn)},
        )
    )
    return {value["dedup_key"]: value["id"] for value in numbered if value["id"] in kept}


def _copy_new(session: Session, values: list[dict[str, Any]]) -> dict[str, int]:
    """PostgreSQL, sole writer of these keys: the rows whose dedup key is not yet taken go in
    by COPY, with ids drawn from the sequence first."""
    table = NOTIFICATIONS
    taken = set(
        session.scalars(
            select(table.c.dedup_key).where(
                among(table.c.dedup_key, [v["dedup_key"] for v in values])
            )
        )
    )
    fresh = [value for value in values if value["dedup_key"] not in taken]
    if not fresh:
        return {}
    drawn = session.scalars(NEXT_IDS, {"n": len(fresh)}).all()
    numbered = [{**value, "id": nid} for value, nid in zip(fresh, drawn, strict=True)]
    insert_rows(session, table, numbered)
    return {value["dedup_key"]: value["id"] for value in numbered}


def _queue(session: Session, rows: list[dict[str, Any]], now: datetime) -> None:
    outbox = [
        {
            "notification_id": row["id"],
            "available_at": row["not_before"] or now,
            "priority": row.get("priority", 0),
            "attempts": 0,
        }
        for row in rows
        if row["status"] == "queued"
    ]
    for start in range(0, len(outbox), CHUNK):
        insert_rows(session, OUTBOX, outbox[start : start + CHUNK])


def _message_event(row: dict[str, Any]) -> timeline.Event:
    data = {"to": row["to_address"], "subject": row["subject"]}
    if row["not_before"]:
        data["held_until"] = row["not_before"].isoformat()
    if row.get("fallback_of"):
        data["fallback_of"] = row["fallback_of"]
    return timeline.Event(
        customer_pk=row["customer_pk"],
        at=row["created_at"],
        type=timeline.MESSAGE,
        incident_id=row["incident_id"],
        notification_id=row["id"],
        channel=row["channel"],
        kind=row["kind"],
        status=row["status"],
        reason=row["reason"],
        body=row["body"],
        data=data,
    )


# ---- what the customer was told --------------------------------------------------------------


def _record_told(
    session: Session,
    incident: Incident,
    facts: IncidentValue,
    decisions: Iterable[tuple[Audience, MessageKind]],
    now: datetime,
) -> None:
    # Everyone given the same kind of message is told the same thing: one UPDATE per kind.
    by_kind: dict[MessageKind, list[int]] = {}
    for member, kind in decisions:
        by_kind.setdefault(kind, []).append(member.customer_pk)
    for kind, pks in by_kind.items():
        session.execute(
            update(IncidentCustomer)
            .where(
                IncidentCustomer.incident_id == incident.id,
                among(IncidentCustomer.customer_pk, pks),
            )
            .values(last_told_at=now, **_told(kind, incident, facts, now))
            .execution_options(synchronize_session=False)
        )


def _told(
    kind: MessageKind, incident: Incident, facts: IncidentValue, now: datetime
) -> dict[str, Any]:
    if kind is MessageKind.ADVISORY:
        return {"told_version": incident.version, "told_severity": facts.severity}
    if kind in OPENING:
        # An ETR already past is not told (the message names none), so they hold none.
        etr = facts.etr if facts.etr is not None and facts.etr > now else None
        return {
            "told_version": incident.version,
            "told_etr": facts.ends_at if facts.kind == "planned" else etr,
            "told_starts_at": facts.starts_at,
            "reminded_at": None,
        }
    if kind is MessageKind.ETR_UPDATE:
        return {"told_etr": facts.etr}
    if kind is MessageKind.ETR_MISSED:
        # The new estimate the message named, if any; with none, the next estimate is news.
        return {"told_etr": facts.etr if facts.etr is not None and facts.etr > now else None}
    if kind is MessageKind.PLANNED_CHANGED:
        return {"told_etr": facts.ends_at, "told_starts_at": facts.starts_at}
    if kind is MessageKind.PLANNED_REMINDER:
        return {"reminded_at": now}
    if kind is MessageKind.COMPENSATION:
        return {"compensation_told": IncidentCustomer.compensation_percent}
    if kind in CLOSING:  # this episode is over; a later one starts untold
        return {"told_version": None, "told_etr": None, "told_starts_at": None}
    return {}  # reassurance: only the time of the last news moves


def _held_until(intent: ChannelIntent, moment: datetime) -> ChannelIntent:
    """The intent held until `moment` at least (the in-app feed and what is not sent at all
    are recorded at once)."""
    if intent.suppressed_reason or intent.channel == "in_app":
        return intent
    held = max(intent.not_before or moment, moment)
    return ChannelIntent(intent.channel, not_before=held)


def _later(facts: IncidentValue, state: CustomerState) -> bool | None:
    if state.told_etr is None or facts.etr is None:
        return None
    return facts.etr > state.told_etr


def _supersede(
    session: Session, incident_id: str, decisions: list[tuple[Audience, MessageKind]], now: datetime
) -> None:
    """Messages not yet handed to a provider that a newer one makes wrong are suppressed."""
    by_kinds: dict[frozenset[MessageKind], list[int]] = {}
    for member, kind in decisions:
        if kind in SUPERSEDES:
            by_kinds.setdefault(SUPERSEDES[kind], []).append(member.customer_pk)
    for kinds, pks in by_kinds.items():
        _withdraw(session, incident_id, pks, kinds, "superseded by a newer message", now)


def _withdraw_advisories(
    session: Session,
    incident_id: str,
    warning: IncidentValue,
    audience: Sequence[Audience],
    now: datetime,
) -> None:
    """A warning cancelled or expired, or a customer no longer in its area: advisories not
    yet handed to a provider are not sent (suppressed, with why, on the timeline)."""
    if warning.status == Status.CANCELLED:
        pks, reason = [m.customer_pk for m in audience], "the warning was cancelled"
    elif warning.terminal or (warning.ends_at is not None and now >= warning.ends_at):
        pks, reason = [m.customer_pk for m in audience], "the warning expired"
    else:
        pks = [m.customer_pk for m in audience if not m.state.affected_now]
        reason = "no longer in the warning's area"
    if pks:
        _withdraw(session, incident_id, pks, frozenset({MessageKind.ADVISORY}), reason, now)


def _withdraw(
    session: Session,
    incident_id: str,
    pks: list[int],
    kinds: frozenset[MessageKind],
    reason: str,
    now: datetime,
) -> None:
    """Suppresses the customers' messages of these kinds not yet handed to a provider."""
    for start in range(0, len(pks), CHUNK):
        stale = session.execute(
            select(
                Notification.id, Notification.customer_pk, Notification.channel, Notification.kind
            )
            .join(OutboxItem, OutboxItem.notification_id == Notification.id)
            .where(
                Notification.incident_id == incident_id,
                among(Notification.customer_pk, pks[start : start + CHUNK]),
                Notification.kind.in_([k.value for k in kinds]),
                OutboxItem.in_flight_since.is_(None),
            )
            # The timeline's entries in the order the messages were planned (as planning in
            # the database writes them, planning/setwise.py).
            .order_by(Notification.id)
            # A worker marking one of these in flight holds its outbox row: wait for it, and
            # leave it out once marked (PostgreSQL checks the condition again after the wait),
            # so a message is never both sent and suppressed.
            .with_for_update(of=OutboxItem)
        ).all()
        if stale:
            suppress(session, stale, reason=reason, now=now)


def _channels_reached(
    session: Session, incident_id: str, decisions: list[tuple[Audience, MessageKind]]
) -> dict[int, set[str]]:
    """Per customer being told of a cancellation, the channels on which something about the
    incident was (or is being) sent: only there is a withdrawal worth sending."""
    pks = [member.customer_pk for member, kind in decisions if kind in WITHDRAWALS]
    if not pks:
        return {}
    rows = session.execute(
        select(Notification.customer_pk, Notification.channel)
        .where(
            Notification.incident_id == incident_id,
            among(Notification.customer_pk, pks),
            Notification.status.in_(("queued", "sent", "delivered")),
        )
        .distinct()
    )
    reached: dict[int, set[str]] = {}
    for pk, channel in rows:
        reached.setdefault(pk, set()).add(channel)
    return reached


def _only_if_reached(intent: ChannelIntent, reached: set[str]) -> ChannelIntent:
    if intent.suppressed_reason or intent.channel in reached:
        return intent
    return ChannelIntent(
        intent.channel, suppressed_reason="nothing about this incident was sent on this channel"
    )


# ---- customers as planning needs them --------------------------------------------------------


def _load_customers(session: Session, pks: list[int]) -> dict[int, Any]:
    rows = session.execute(
        select(
            Customer.id,
            Customer.customer_id,
            Customer.language,
            Customer.address,
            Customer.phone,
            Customer.email,
            Customer.channels,
            Customer.quiet_hours,
            Customer.priority,
        ).where(among(Customer.id, pks))
    )
    return {row.id: row for row in rows}


def _preferences(
    session: Session, hasher: ContactHasher, customers: dict[int, Row[Any]]
) -> dict[int, Preferences]:
    push_counts = dict(
        session.execute(
            select(PushSubscription.customer_pk, func.count())
            .where(among(PushSubscription.customer_pk, list(customers)))
            .group_by(PushSubscription.customer_pk)
        ).all()
    )
    contacts = {pk: contacts_of(c) for pk, c in customers.items()}
    refused = blocked(session, hasher=hasher, contacts=[c for cs in contacts.values() for c in cs])
    return {
        pk: _prefs_of(
            c, push_counts.get(pk, 0), {x.channel: refused[x] for x in contacts[pk] if x in refused}
        )
        for pk, c in customers.items()
    }


def _prefs_of(customer: Row[Any], push_count: int, refused: dict[str, str]) -> Preferences:
    return Preferences(
        chosen=frozenset(customer.channels.split(";")) if customer.channels else None,
        has_phone=bool(customer.phone),
        has_email=bool(customer.email),
        has_push=push_count > 0,
        blocked=refused,
        quiet_hours=QuietHours.parse(customer.quiet_hours) if customer.quiet_hours else None,
    )


def _address_for(channel: str, customer: Row[Any]) -> str | None:
    return {"sms": customer.phone, "email": customer.email}.get(channel)
