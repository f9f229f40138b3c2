"""Planning a chunk inside PostgreSQL: INSERT … SELECT from the match, decided per class.

A storm's customers fall into few classes: what they were told (their tie's state) and how they
can be reached (language, channels, contacts, quiet hours, priority). The decision table, the
channel plan and the templates are run once per class in Python (the same functions the
per-customer planner runs), and the database applies them to every customer of the class:

1. The chunk's ties and the customers' columns are copied into a temporary table; opt-outs and
   tombstones are checked there by the same keyed hashes (pgcrypto's HMAC), and each customer
   gets a state key and a preferences key.
2. Python reads the distinct classes, decides, plans channels and renders each (state,
   preferences) pair's messages, with the address left as a marker.
3. One statement inserts the notifications (ON CONFLICT on the dedup key), their outbox rows
   and their timeline events; the address goes into each text in SQL.
4. What customers were told, the timeline's "affected / updated / released" entries and the
   planned marks are set-based UPDATEs and INSERTs too.

An SMS's segment count depends on the address only through its length when the address is
plain GSM-7 text (no extension character, no line break, no edge spaces), so it is counted by
the SMS module once per (text, address length). Customers whose address or contacts fall
outside what SQL reproduces exactly (another alphabet, a control character, a contact that is
not printable ASCII) are few: they go through the per-customer planner, in the same
transaction. Nothing here creates a Python object per customer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    exists,
    func,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from outage_notify.db.models import IncidentCustomer, OptOut, PlanningJob
from outage_notify.incidents.model import IncidentValue, MessageKind, Status, value_of
from outage_notify.planning import sms
from outage_notify.planning.messages import ADDRESS_MARK
from outage_notify.planning.rules import (
    SUPERSEDES,
    WITHDRAWALS,
    ChannelIntent,
    CustomerState,
    Preferences,
    QuietHours,
    channel_plan,
    decide,
    deferrable,
)
from outage_notify.planning.service import (
    TIE_STATE,
    URGENT,
    Audience,
    Planner,
    _held_until,
    _later,
    _told,
    state_of,
)

# PostgreSQL text holds no NUL: the address marker in SQL is a private-use character pair,
# which no template writes.
SQL_MARK = "\ue000ADDRESS\ue000"
NOT_REACHED = "nothing about this incident was sent on this channel"
PYTHON, SQL = "python", "sql"

# Plain GSM-7: one septet each, nothing `one_line` or `strip` would change inside a text.
PLAIN_GSM7 = sms.GSM7_BASIC - {"\n", "\r"}


def _bracket(chars: frozenset[str]) -> str:
    """A POSIX bracket expression matching exactly these characters."""
    special = {"\\", "]", "[", "^", "-"}
    body = "".join(("\\" + ch) if ch in special else ch for ch in sorted(chars))
    return f"[{body}]"


PLAIN_ADDRESS = f"^{_bracket(PLAIN_GSM7)}+$"
PRINTABLE_ASCII = "^[ -~]*$"

_meta = MetaData()
CHUNK = Table(
    "plan_chunk",
    _meta,
    Column("customer_pk", Integer, primary_key=True),
    Column("affected", Boolean),
    Column("planned_affected", Boolean),
    Column("planned_version", Integer),
    Column("told", Boolean),
    Column("told_etr", DateTime(timezone=True)),
    Column("told_starts_at", DateTime(timezone=True)),
    Column("last_told_at", DateTime(timezone=True)),
    Column("reminded", Boolean),
    Column("compensation_percent", Integer),
    Column("compensation_told", Boolean),
    Column("told_severity", String),
    Column("customer_id", String),
    Column("language", String),
    Column("address", String),
    Column("phone", String),
    Column("email", String),
    Column("channels", String),
    Column("quiet_hours", String),
    Column("priority", Boolean),
    Column("has_push", Boolean),
    Column("sms_blocked", String),
    Column("email_blocked", String),
    Column("route", String),
    Column("state_key", String),
    Column("pref_key", String),
    Column("kind", String),
)

DDL = (
    """CREATE TEMPORARY TABLE IF NOT EXISTS plan_chunk (
        customer_pk integer PRIMARY KEY, affected boolean, planned_affected boolean,
        planned_version integer, told boolean, told_etr timestamptz, told_starts_at timestamptz,
        last_told_at timestamptz, reminded boolean, compensation_percent integer,
        compensation_told boolean, told_severity text, customer_id text, language text,
        address text, phone text, email text, channels text, quiet_hours text, priority boolean,
        has_push boolean, sms_blocked text, email_blocked text, route text, state_key text,
        pref_key text, kind text
    ) ON COMMIT DELETE ROWS""",
    """CREATE TEMPORARY TABLE IF NOT EXISTS plan_route (
        state_key text, pref_key text, ord integer, channel text, kind text, later boolean,
        reason text, not_before timestamptz, text_key text, status text,
        provider text, needs_reach boolean
    ) ON COMMIT DELETE ROWS""",
    """CREATE TEMPORARY TABLE IF NOT EXISTS plan_text (
        text_key text PRIMARY KEY, subject text, body text, html text
    ) ON COMMIT DELETE ROWS""",
    """CREATE TEMPORARY TABLE IF NOT EXISTS plan_sms (
        text_key text, addr_len integer, body text, encoding text, segments integer,
        PRIMARY KEY (text_key, addr_len)
    ) ON COMMIT DELETE ROWS""",
    """CREATE TEMPORARY TABLE IF NOT EXISTS plan_touch (
        affected boolean, planned_affected boolean, seen integer, type text, reason text,
        data text
    ) ON COMMIT DELETE ROWS""",
)
TEMP_TABLES = ("plan_chunk", "plan_route", "plan_text", "plan_sms", "plan_touch")

FILL = """
INSERT INTO plan_chunk (customer_pk, affected, planned_affected, planned_version, told, told_etr,
    told_starts_at, last_told_at, reminded, compensation_percent, compensation_told,
    told_severity, customer_id, language, address, phone, email, channels, quiet_hours,
    priority, has_push)
SELECT ic.customer_pk, coalesce(ic.affected, false), coalesce(ic.planned_affected, false),
    ic.planned_version, ic.told_version IS NOT NULL, ic.told_etr, ic.told_starts_at,
    ic.last_told_at, ic.reminded_at IS NOT NULL, ic.compensation_percent,
    ic.compensation_told IS NOT NULL, ic.told_severity, c.customer_id, c.language, c.address,
    c.phone, c.email, c.channels, c.quiet_hours, c.priority IS NOT NULL,
    EXISTS (SELECT 1 FROM push_subscriptions p WHERE p.customer_pk = ic.customer_pk)
FROM incident_customers ic JOIN customers c ON c.id = ic.customer_pk
WHERE ic.incident_id = :incident
  AND (ic.planned_version IS NULL OR ic.planned_version < :review_from)
  AND {which}
ORDER BY ic.customer_pk
LIMIT :size
"""
PRIORITY_ONLY = "c.priority IS NOT NULL"
FROM_CURSOR = "ic.customer_pk > :cursor"


def _digest(channel: str, column: str) -> str:
    """customers/contacts.py's ContactHasher.contact, in SQL (for printable ASCII, where
    str.strip().lower() and btrim/lower agree)."""
    return (
        f"encode(hmac(convert_to('{channel}:' || lower(btrim({column})), 'UTF8'), :key, "
        "'sha256'), 'hex')"
    )


def _wrapped(channel: str, column: str) -> str:
    """ContactHasher.wrapped(legacy_digest(...)): opt-outs stored before keyed hashes."""
    normal = f"convert_to('{channel}:' || lower(btrim({column})), 'UTF8')"
    legacy = f"encode(digest({normal}, 'sha256'), 'hex')"
    return f"encode(hmac(convert_to('legacy:' || {legacy}, 'UTF8'), :key, 'sha256'), 'hex')"


CUSTOMER_HASH = (
    "encode(hmac(convert_to('customer:' || customer_id, 'UTF8'), :key, 'sha256'), 'hex')"
)


def _blocked(channel: str, column: str, *, wrapped: bool, erased: bool) -> str:
    """customers/optouts.py's `blocked` for one channel: opted out, else erased, else NULL."""
    digests = [_digest(channel, column)] + ([_wrapped(channel, column)] if wrapped else [])
    opted = (
        f"EXISTS (SELECT 1 FROM opt_outs o WHERE o.channel = '{channel}' "
        f"AND o.address_hash IN ({', '.join(digests)}))"
    )
    cases = [f"WHEN {opted} THEN 'opted_out'"]
    if erased:
        cases.append(
            f"WHEN EXISTS (SELECT 1 FROM erasures e WHERE e.customer_hash = {CUSTOMER_HASH} "
            f"AND e.channel = '{channel}' AND e.address_hash = {_digest(channel, column)}) "
            "THEN 'erased'"
        )
    return f"CASE WHEN coalesce({column}, '') = '' THEN NULL {' '.join(cases)} END"


ROUTE = f"""
UPDATE plan_chunk SET
  route = CASE WHEN (coalesce(address, '') = ''
                     OR (address ~ :plain_address AND address = btrim(address)))
                AND coalesce(phone, '') ~ '{PRINTABLE_ASCII}'
                AND coalesce(email, '') ~ '{PRINTABLE_ASCII}'
           THEN '{SQL}' ELSE '{PYTHON}' END,
  state_key = concat_ws('|', affected, planned_affected, told, coalesce(told_etr::text, '~'),
      coalesce(told_starts_at::text, '~'), coalesce(last_told_at::text, '~'), reminded,
      coalesce(compensation_percent::text, '~'), compensation_told,
      coalesce(told_severity, '~')),
  pref_key = concat_ws('|', language, coalesce(channels, '~'), coalesce(phone, '') <> '',
      coalesce(email, '') <> '', has_push, coalesce(quiet_hours, '~'), priority,
      coalesce(address, '') <> '', coalesce(sms_blocked, '~'), coalesce(email_blocked, '~'))
"""

# Python's datetime.isoformat() of a UTC moment: microseconds only when there are any.
ISOFORMAT = (
    "to_char({moment} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') "
    "|| CASE WHEN extract(microseconds FROM {moment})::bigint % 1000000 <> 0 "
    "THEN '.' || to_char({moment} AT TIME ZONE 'UTC', 'US') ELSE '' END || '+00:00'"
)
HTML_ADDRESS = (
    "replace(replace(replace(replace(replace(coalesce(k.address, ''), '&', '&amp;'), '<', '&lt;'),"
    " '>', '&gt;'), '\"', '&#34;'), '''', '&#39;')"
)

WRITE = f"""
WITH planned AS (
  SELECT k.customer_pk, r.ord, r.channel, r.kind, r.later,
    k.language, CASE r.channel WHEN 'sms' THEN k.phone WHEN 'email' THEN k.email END AS to_address,
    CASE WHEN r.channel = 'sms' THEN replace(s.body, :mark, coalesce(k.address, ''))
         ELSE replace(t.body, :mark, coalesce(k.address, '')) END AS body,
    replace(t.subject, :mark, coalesce(k.address, '')) AS subject,
    replace(t.html, :mark, {HTML_ADDRESS}) AS html,
    s.encoding, s.segments,
    r.needs_reach AND NOT EXISTS (
      SELECT 1 FROM notifications n WHERE n.incident_id = :incident
        AND n.customer_pk = k.customer_pk AND n.channel = r.channel
        AND n.status IN ('queued', 'sent', 'delivered')) AS unreached,
    r.reason, r.not_before, r.status, r.provider
  FROM plan_chunk k
  JOIN plan_route r ON r.state_key = k.state_key AND r.pref_key = k.pref_key
  LEFT JOIN plan_text t ON t.text_key = r.text_key
  LEFT JOIN plan_sms s ON s.text_key = r.text_key
    AND s.addr_len = char_length(coalesce(k.address, ''))
  WHERE k.route = '{SQL}'
), final AS (
  SELECT p.*,
    CASE WHEN unreached THEN 'suppressed' ELSE status END AS final_status,
    CASE WHEN unreached THEN '{NOT_REACHED}' ELSE reason END AS final_reason,
    CASE WHEN unreached THEN NULL ELSE not_before END AS final_not_before,
    CASE WHEN unreached THEN NULL ELSE provider END AS final_provider
  FROM planned p
), ins AS (
  INSERT INTO notifications (customer_pk, incident_id, channel, kind, dedup_key, language,
    to_address, subject, body, html, status, reason, provider, sms_segments, sms_encoding,
    attempts, possible_duplicate, fallback_of, render_args, not_before, created_at, updated_at,
    delivered_at)
  SELECT customer_pk, :incident, channel, kind,
    :incident || ':' || customer_pk || ':' || kind || ':' || :version || ':' || channel,
    language, to_address, subject, body, html, final_status, final_reason, final_provider,
    segments, encoding, 0, false, NULL, json_build_object('version', :version, 'later', later),
    final_not_before, :now, :now,
    CASE WHEN final_status = 'delivered' THEN CAST(:now AS timestamptz) END
  FROM final ORDER BY customer_pk, ord
  ON CONFLICT (dedup_key) DO NOTHING
  RETURNING id, customer_pk, channel, kind, status, reason, body, to_address, subject,
    not_before
), queued AS (
  INSERT INTO outbox (notification_id, available_at, priority, attempts)
  SELECT ins.id, coalesce(ins.not_before, :now),
    CASE WHEN ins.kind = ANY(:urgent) THEN 10 ELSE 0 END
      + CASE WHEN k.priority THEN 5 ELSE 0 END, 0
  FROM ins JOIN plan_chunk k ON k.customer_pk = ins.customer_pk
  WHERE ins.status = 'queued'
), logged AS (
  INSERT INTO timeline_events (customer_pk, at, type, incident_id, notification_id, channel,
    kind, status, reason, body, data)
  SELECT customer_pk, :now, 'message', :incident, id, channel, kind, status, reason, body,
    CASE WHEN not_before IS NULL
      THEN json_build_object('to', to_address, 'subject', subject)
      ELSE json_build_object('to', to_address, 'subject', subject,
                             'held_until', {ISOFORMAT.format(moment="not_before")}) END
  FROM ins
  ORDER BY id
)
SELECT count(*) FROM ins
"""

TOUCH = """
INSERT INTO timeline_events (customer_pk, at, type, incident_id, reason, data)
SELECT k.customer_pk, :at, t.type, :incident, t.reason, CAST(t.data AS json)
FROM plan_chunk k JOIN plan_touch t ON t.affected = k.affected
  AND t.planned_affected = k.planned_affected AND t.seen = coalesce(k.planned_version, 0)
ORDER BY k.customer_pk
"""


@dataclass(frozen=True)
class ChunkResult:
    customers: int
    last_pk: int | None
    messages: int
    priority_pass: bool


def plan_chunk(
    session: Session,
    *,
    job: PlanningJob,
    incident: Any,
    planner: Planner,
    size: int,
    touches: Any,
    now: datetime,
) -> ChunkResult:
    """Takes the job's next chunk of ties and plans it; `touches(incident, classes)` gives the
    timeline entry of each (affected, planned_affected, seen) class."""
    _create_tables(session)
    priority_pass = job.cursor == 0 and _fill(session, job, size, PRIORITY_ONLY) > 0
    if not priority_pass:
        _fill(session, job, size, FROM_CURSOR)
    count, last_pk = session.execute(
        select(func.count(), func.max(CHUNK.c.customer_pk)).select_from(CHUNK)
    ).one()
    if count == 0:
        return ChunkResult(0, None, 0, priority_pass)
    _route(session, planner)
    value = value_of(incident)
    written = _plan_messages(session, incident, value, planner, now)
    written += _plan_exceptions(session, incident, planner, now)
    _log_touches(session, incident, touches)
    _mark_planned(session, incident.id, job.version)
    return ChunkResult(count, last_pk, written, priority_pass)


def _create_tables(session: Session) -> None:
    for statement in DDL:
        session.execute(text(statement))
    # ON COMMIT DELETE ROWS empties them at commit; a second chunk in one transaction (a
    # test's, or a retried step) must not see the first one's rows. (DELETE, not TRUNCATE:
    # they are empty but for that case, and TRUNCATE gives each a new file every time.)
    for table in TEMP_TABLES:
        session.execute(text(f"DELETE FROM {table}"))


def _fill(session: Session, job: PlanningJob, size: int, which: str) -> int:
    result = session.execute(
        text(FILL.format(which=which)),
        {
            "incident": job.incident_id,
            "review_from": job.review_from,
            "cursor": job.cursor,
            "size": size,
        },
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _route(session: Session, planner: Planner) -> None:
    """Who is planned here and who per customer; opt-outs and tombstones; the class keys."""
    wrapped = session.scalar(select(exists().where(OptOut.scheme == "wrapped")))
    erased = session.scalar(text("SELECT EXISTS (SELECT 1 FROM erasures)"))
    anything = session.scalar(select(exists().where(OptOut.id.is_not(None)))) or erased
    if anything:
        flags = {"wrapped": bool(wrapped), "erased": bool(erased)}
        session.execute(
            text(
                "UPDATE plan_chunk SET "
                f"sms_blocked = {_blocked('sms', 'phone', **flags)}, "
                f"email_blocked = {_blocked('email', 'email', **flags)} "
                f"WHERE coalesce(phone, '') ~ '{PRINTABLE_ASCII}' "
                f"AND coalesce(email, '') ~ '{PRINTABLE_ASCII}'"
            ),
            {"key": planner.hasher.key},
        )
    session.execute(text(ROUTE), {"plain_address": PLAIN_ADDRESS})


# ---- messages -------------------------------------------------------------------------------


def _plan_messages(
    session: Session, incident: Any, value: IncidentValue, planner: Planner, now: datetime
) -> int:
    states = _decisions(session, value, planner, now)
    if value.warning:
        _withdraw_advisories(session, incident.id, value, now)
    if not states:
        return 0
    _store_kinds(session, states)
    _supersede(session, incident.id, states, now)
    routes, texts = _routes(session, incident, value, planner, states, now)
    if not routes:
        return 0
    _insert(session, "plan_route", routes)
    _store_texts(session, texts, planner, value, now)
    written = session.execute(
        text(WRITE),
        {
            "incident": incident.id,
            "version": incident.version,
            "now": now,
            "mark": SQL_MARK,
            "urgent": sorted(k.value for k in URGENT),
        },
    ).scalar_one()
    _record_told(session, incident, value, states, now)
    return int(written)


@dataclass(frozen=True)
class StateClass:
    key: str
    state: CustomerState
    kind: MessageKind


STATE_COLUMNS = (
    "state_key",
    "affected",
    "planned_affected",
    "told",
    "told_etr",
    "told_starts_at",
    "last_told_at",
    "reminded",
    "compensation_percent",
    "compensation_told",
    "told_severity",
)


def _decisions(
    session: Session, value: IncidentValue, planner: Planner, now: datetime
) -> dict[str, StateClass]:
    """State key → its class and the message it calls for (classes calling for none left out)."""
    rows = session.execute(
        text(f"SELECT DISTINCT {', '.join(STATE_COLUMNS)} FROM plan_chunk WHERE route = '{SQL}'")
    ).all()
    threshold = _threshold(planner)
    decided: dict[str, StateClass] = {}
    for row in rows:
        state = CustomerState(
            affected_now=bool(row.affected),
            affected_before=bool(row.planned_affected),
            told=bool(row.told),
            told_etr=row.told_etr if row.told else None,
            told_starts_at=row.told_starts_at if row.told else None,
            last_told_at=row.last_told_at if row.told else None,
            reminded=bool(row.reminded),
            compensation_percent=row.compensation_percent,
            compensation_told=bool(row.compensation_told),
            told_severity=row.told_severity if row.told else None,
        )
        kind = decide(value, state, etr_threshold=threshold, now=now, lifecycle=planner.lifecycle)
        if kind is not None:
            decided[row.state_key] = StateClass(row.state_key, state, kind)
    return decided


def _threshold(planner: Planner) -> timedelta:
    return timedelta(minutes=planner.settings.etr_change_minutes)


def _store_kinds(session: Session, states: dict[str, StateClass]) -> None:
    by_kind: dict[MessageKind, list[str]] = {}
    for cls in states.values():
        by_kind.setdefault(cls.kind, []).append(cls.key)
    for kind, keys in by_kind.items():
        session.execute(
            text(
                f"UPDATE plan_chunk SET kind = :kind WHERE route = '{SQL}' "
                "AND state_key = ANY(:keys)"
            ),
            {"kind": kind.value, "keys": keys},
        )


def _in_chunk(kinds: set[str]) -> Any:
    return (
        select(CHUNK.c.customer_pk)
        .where(CHUNK.c.route == SQL, CHUNK.c.kind.in_(sorted(kinds)))
        .scalar_subquery()
    )


def _supersede(
    session: Session, incident_id: str, states: dict[str, StateClass], now: datetime
) -> None:
    """As the per-customer planner: what a newer message makes wrong is not sent."""
    by_superseded: dict[frozenset[MessageKind], set[str]] = {}
    for cls in states.values():
        if cls.kind in SUPERSEDES:
            by_superseded.setdefault(SUPERSEDES[cls.kind], set()).add(cls.kind.value)
    for superseded, kinds in by_superseded.items():
        _withdraw(
            session,
            incident_id,
            "kind = ANY(:new_kinds)",
            {"new_kinds": sorted(kinds)},
            superseded,
            "superseded by a newer message",
            now,
        )


def _withdraw_advisories(
    session: Session, incident_id: str, warning: IncidentValue, now: datetime
) -> None:
    if warning.status == Status.CANCELLED:
        who, reason = "true", "the warning was cancelled"
    elif warning.terminal or (warning.ends_at is not None and now >= warning.ends_at):
        who, reason = "true", "the warning expired"
    else:
        who, reason = "NOT affected", "no longer in the warning's area"
    _withdraw(session, incident_id, who, {}, frozenset({MessageKind.ADVISORY}), reason, now)


WITHDRAW = f"""
WITH stale AS (
  SELECT n.id FROM notifications n JOIN outbox o ON o.notification_id = n.id
  WHERE n.incident_id = :incident AND n.kind = ANY(:kinds) AND o.in_flight_since IS NULL
    AND n.customer_pk IN (SELECT customer_pk FROM plan_chunk WHERE route = '{SQL}' AND {{who}})
  ORDER BY n.id
  -- A worker marking one of these in flight holds its outbox row: wait for it, and leave it
  -- out once marked (the condition is checked again after the wait), so a message is never
  -- both sent and suppressed.
  FOR UPDATE OF o
), unqueued AS (
  DELETE FROM outbox o USING stale WHERE o.notification_id = stale.id
  RETURNING o.notification_id
), suppressed AS (
  UPDATE notifications n SET status = 'suppressed', reason = :reason, updated_at = :now
  FROM unqueued WHERE n.id = unqueued.notification_id
  RETURNING n.id, n.customer_pk, n.channel, n.kind
)
INSERT INTO timeline_events (customer_pk, at, type, notification_id, channel, kind, status,
  reason)
SELECT customer_pk, :now, 'message_status', id, channel, kind, 'suppressed', :reason
FROM suppressed ORDER BY id
"""


def _withdraw(
    session: Session,
    incident_id: str,
    who: str,
    params: dict[str, Any],
    kinds: frozenset[MessageKind],
    reason: str,
    now: datetime,
) -> None:
    """delivery/outbox.py's `suppress` for the chunk's customers `who` names (a condition on
    plan_chunk): their queued messages of these kinds, not yet handed to a provider."""
    session.execute(
        text(WITHDRAW.format(who=who)),
        {
            "incident": incident_id,
            "kinds": sorted(k.value for k in kinds),
            "reason": reason,
            "now": now,
            **params,
        },
    )


PREF_COLUMNS = (
    "pref_key",
    "language",
    "channels",
    "has_phone",
    "has_email",
    "has_push",
    "quiet_hours",
    "priority",
    "has_address",
    "sms_blocked",
    "email_blocked",
)
PREFS_QUERY = f"""
SELECT DISTINCT k.state_key, k.pref_key, k.language, k.channels,
  coalesce(k.phone, '') <> '' AS has_phone, coalesce(k.email, '') <> '' AS has_email,
  k.has_push, k.quiet_hours, k.priority, coalesce(k.address, '') <> '' AS has_address,
  k.sms_blocked, k.email_blocked
FROM plan_chunk k WHERE k.route = '{SQL}' AND k.kind IS NOT NULL
"""


@dataclass(frozen=True)
class TextKey:
    kind: MessageKind
    channel: str
    language: str
    has_address: bool
    later: bool | None
    percent: int | None
    hours: int | None

    @property
    def key(self) -> str:
        return json.dumps(
            [
                self.kind.value,
                self.channel,
                self.language,
                self.has_address,
                self.later,
                self.percent,
                self.hours,
            ]
        )


def _routes(
    session: Session,
    incident: Any,
    value: IncidentValue,
    planner: Planner,
    states: dict[str, StateClass],
    now: datetime,
) -> tuple[list[tuple[Any, ...]], dict[str, TextKey]]:
    """One row per (state, preferences, channel): what is written, held, or not sent and why."""
    routes: list[tuple[Any, ...]] = []
    texts: dict[str, TextKey] = {}
    for row in session.execute(text(PREFS_QUERY)):
        cls = states[row.state_key]
        prefs = Preferences(
            chosen=frozenset(row.channels.split(";")) if row.channels else None,
            has_phone=row.has_phone,
            has_email=row.has_email,
            has_push=row.has_push,
            blocked={
                ch: why
                for ch, why in (("sms", row.sms_blocked), ("email", row.email_blocked))
                if why
            },
            quiet_hours=QuietHours.parse(row.quiet_hours) if row.quiet_hours else None,
        )
        kind = cls.kind
        send_from = planner.send_from(kind, value, bool(row.priority), now)
        intents = channel_plan(
            kind,
            prefs,
            now=send_from,
            zone=planner.settings.zone,
            deferrable=deferrable(kind, value),
            expires=value.ends_at if value.warning else None,
        )
        if send_from > now:
            intents = [_held_until(intent, send_from) for intent in intents]
        later = _later(value, cls.state) if kind is MessageKind.ETR_UPDATE else None
        percent, hours = planner.compensation_of(kind, cls.state)
        for order, intent in enumerate(intents):
            key = TextKey(
                kind, intent.channel, row.language, row.has_address, later, percent, hours
            )
            texts[key.key] = key
            routes.append(_route_row(row, order, intent, kind, later, key.key, kind in WITHDRAWALS))
    return routes, texts


def _route_row(
    row: Any,
    order: int,
    intent: ChannelIntent,
    kind: MessageKind,
    later: bool | None,
    text_key: str,
    withdrawal: bool,
) -> tuple[Any, ...]:
    status, provider = "queued", None
    if intent.suppressed_reason:
        status = "suppressed"
    elif intent.channel == "in_app":
        status, provider = "delivered", "in_app"
    return (
        row.state_key,
        row.pref_key,
        order,
        intent.channel,
        kind.value,
        later,
        intent.suppressed_reason,
        intent.not_before,
        text_key,
        status,
        provider,
        withdrawal and not intent.suppressed_reason,
    )


def _store_texts(
    session: Session,
    texts: dict[str, TextKey],
    planner: Planner,
    value: IncidentValue,
    now: datetime,
) -> None:
    """Each text once, the address a marker; an SMS once per address length it is sent with."""
    lengths = _address_lengths(session)
    plain: list[tuple[Any, ...]] = []
    short: list[tuple[Any, ...]] = []
    for key, spec in texts.items():
        group = planner.renderer.render_group(
            kind=spec.kind,
            channel=spec.channel,
            language=spec.language,
            incident=value,
            now=now,
            has_address=spec.has_address,
            later=spec.later,
            compensation_percent=spec.percent,
            outage_hours=spec.hours,
        )
        if spec.channel != "sms":
            plain.append((key, _sql(group.subject), _sql(group.body), _sql(group.html)))
            continue
        assert group.compact is not None
        for length in lengths.get((spec.language, spec.has_address), ()):
            fitted = _fit_sms(group.body, group.compact, length)
            short.append((key, length, _sql(fitted[0]), fitted[1], fitted[2]))
    if plain:
        _insert(session, "plan_text", plain)
    if short:
        _insert(session, "plan_sms", short)


def _address_lengths(session: Session) -> dict[tuple[str, bool], list[int]]:
    found: dict[tuple[str, bool], list[int]] = {}
    rows = session.execute(
        text(
            "SELECT DISTINCT language, coalesce(address, '') <> '', "
            f"char_length(coalesce(address, '')) FROM plan_chunk WHERE route = '{SQL}'"
        )
    )
    for language, has_address, length in rows:
        found.setdefault((language, has_address), []).append(length)
    return found


def _fit_sms(full: str, compact: str, length: int) -> tuple[str, str, int]:
    """The wording (marker kept) that the SMS module chooses for an address of this length of
    plain GSM-7 characters, its encoding and segments: with such an address the choice
    depends on the length alone."""
    stand_in = "a" * length
    wordings = (full, compact)
    fitted = [sms.fit(w.replace(ADDRESS_MARK, stand_in)) for w in wordings]
    best = min(range(len(fitted)), key=lambda i: fitted[i].segments)
    chosen = fitted[best]
    wording = wordings[best]
    if chosen.text != wording.replace(ADDRESS_MARK, stand_in):
        wording = sms.to_gsm7(wording)  # smart encoding, character by character
    return wording, chosen.encoding, chosen.segments


def _sql(textual: str | None) -> str | None:
    return None if textual is None else textual.replace(ADDRESS_MARK, SQL_MARK)


VALUES_BATCH = 1000  # rows per INSERT: well within a statement's 65,535 parameters


def _insert(session: Session, table: str, rows: list[tuple[Any, ...]]) -> None:
    """Rows (all of one width) into one of this module's temporary tables."""
    for start in range(0, len(rows), VALUES_BATCH):
        batch = rows[start : start + VALUES_BATCH]
        places = ", ".join(
            "(" + ", ".join(f":v{r}_{c}" for c in range(len(row))) + ")"
            for r, row in enumerate(batch)
        )
        values = {f"v{r}_{c}": v for r, row in enumerate(batch) for c, v in enumerate(row)}
        session.execute(text(f"INSERT INTO {table} VALUES {places}"), values)


def _record_told(
    session: Session,
    incident: Any,
    value: IncidentValue,
    states: dict[str, StateClass],
    now: datetime,
) -> None:
    for kind in {c.kind for c in states.values()}:
        session.execute(
            update(IncidentCustomer)
            .where(
                IncidentCustomer.incident_id == incident.id,
                IncidentCustomer.customer_pk.in_(_in_chunk({kind.value})),
            )
            .values(last_told_at=now, **_told(kind, incident, value, now))
            .execution_options(synchronize_session=False)
        )


# ---- customers the per-customer planner takes ------------------------------------------------


def _plan_exceptions(session: Session, incident: Any, planner: Planner, now: datetime) -> int:
    ties = session.execute(
        select(*TIE_STATE).where(
            IncidentCustomer.incident_id == incident.id,
            IncidentCustomer.customer_pk.in_(
                select(CHUNK.c.customer_pk).where(CHUNK.c.route == PYTHON).scalar_subquery()
            ),
        )
    ).all()
    if not ties:
        return 0
    audience = [Audience(customer_pk=t.customer_pk, state=state_of(t)) for t in ties]
    return planner.plan_incident(session, incident=incident, audience=audience, now=now)


# ---- the timeline and the planned marks --------------------------------------------------------


def _log_touches(session: Session, incident: Any, touches: Any) -> None:
    classes = session.execute(
        text(
            "SELECT DISTINCT affected, planned_affected, coalesce(planned_version, 0) "
            "FROM plan_chunk"
        )
    ).all()
    entries, at = touches(session, incident, [tuple(c) for c in classes])
    if not entries:
        return
    rows = [
        (affected, before, seen, kind, reason, json.dumps(data))
        for (affected, before, seen), (kind, reason, data) in entries.items()
    ]
    _insert(session, "plan_touch", rows)
    session.execute(text(TOUCH), {"at": at, "incident": incident.id})


def _mark_planned(session: Session, incident_id: str, version: int) -> None:
    session.execute(
        text(
            "UPDATE incident_customers ic SET planned_version = :version, "
            "planned_affected = k.affected FROM plan_chunk k "
            "WHERE ic.incident_id = :incident AND ic.customer_pk = k.customer_pk"
        ),
        {"version": version, "incident": incident_id},
    )
