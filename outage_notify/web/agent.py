"""The agent desk (issue 12 item 2), for agents on the phone with customers during a storm.

- /agent: what callers are calling about right now (open outages, planned work under way and
  weather warnings, each with its estimate in plain words; the latest replies and reports from
  customers), and the search: by phone in any format, customer id, name or address. The plain
  form works without JavaScript; static/agent.js fetches /agent/search as the agent types.
- /agent/customers/{id}: the customer (contacts, language, channels, quiet hours, opt-outs),
  their current incidents, and their timeline as a conversation, newest first, grouped by
  incident: what we sent on which channel and what became of it, what they replied, notes,
  changes of preferences and who made them and why.
- Quick actions, POST forms (CSRF checked by require_user): add a note, resend a message on
  another channel, change preferences with a reason. Each is a service that never commits
  (timeline.notes, planning.resend, customers.preferences); done, the page comes back with a
  confirmation; refused, the page says why (422), the agent's input kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from outage_notify.api.deps import get_runtime
from outage_notify.auth.sessions import SignedIn
from outage_notify.customers import service as customers
from outage_notify.customers.optouts import opted_out_channels
from outage_notify.customers.preferences import change_preferences, effective_channels
from outage_notify.db.models import Customer, Incident, PushSubscription, TimelineEvent
from outage_notify.errors import ActionRefused
from outage_notify.incidents import views
from outage_notify.incidents.model import ACTIVE_STATUSES, IncidentKind
from outage_notify.ingest.customers import normalise_phone
from outage_notify.ingest.records import RecordError
from outage_notify.planning.resend import resend_on_channel
from outage_notify.planning.rules import CHANNELS
from outage_notify.public.reports import MAX_TEXT as MAX_REPORT_WORDS
from outage_notify.public.reports import take_report
from outage_notify.public.words import N_, Voice, ago, clock, status_words
from outage_notify.runtime import Runtime
from outage_notify.timeline import service as timeline
from outage_notify.timeline.notes import MAX_NOTE, add_note
from outage_notify.timeline.views import customer_timeline
from outage_notify.timeutil import parse_iso_aware
from outage_notify.web import agent_words as words
from outage_notify.web import i18n
from outage_notify.web.signin import PageRefusal, require_user
from outage_notify.web.templating import page_voice, templates

router = APIRouter(include_in_schema=False)
as_agent = require_user("agent")
RECENT_REPLIES = 20
INCIDENTS_SHOWN = 100
SEARCH_LIMIT = 50
MAX_QUERY = 200
MAX_ID = 2_147_483_647  # notifications.id is a 32-bit integer in PostgreSQL

# A refusal's code (errors.ActionRefused) as the page says it; %(channel)s is the channel's name.
REFUSALS = {
    "note_empty": N_("The note is empty: write what happened."),
    "note_too_long": N_("The note is %(length)s characters long: at most %(limit)s."),
    "note_control": N_("The note holds control characters: only text and line breaks."),
    "report_too_long": N_("The report's words are %(length)s characters long: at most %(limit)s."),
    "report_control": N_("The report's words hold control characters: only text and line breaks."),
    "channel_unknown": N_("That is not a channel a message can be sent on."),
    "channels_empty": N_("Choose at least one channel."),
    "channel_no_address": N_("The customer has no address for %(channel)s: it cannot be chosen."),
    "language_unknown": N_("Choose Finnish, Swedish or English."),
    "quiet_hours_bad": N_(
        "Write quiet hours as HH:MM-HH:MM (for example 22:00-07:00), or leave them empty."
    ),
    "reason_missing": N_("Give the reason for the change."),
    "reason_bad": N_("The reason must be one line of at most %(limit)s characters."),
    "unchanged": N_("Nothing to change: these are the preferences already."),
    "no_message": N_("This customer has no such message."),
    "same_channel": N_("This message went by %(channel)s: choose another channel."),
    "no_address": N_("The customer has no address for %(channel)s."),
    "opted_out": N_("The customer's %(channel)s address has opted out: it may not be used."),
    "not_resendable": N_(
        "This message is not about an incident whose text is kept: it cannot be sent again."
    ),
    "already_resent": N_("This message was already sent again by %(channel)s."),
    "already_sent": N_("This message already went by %(channel)s."),
}
DONE = {
    "note": N_("Note added to the timeline."),
    "resend": N_("The message is queued to go by %(channel)s. The timeline shows it."),
    "preferences": N_("Preferences saved. The change and its reason are on the timeline."),
    "report": N_("Outage reported: it is on the operators' map and on the timeline."),
}


# ---- home and search -----------------------------------------------------------------------


@router.get("/agent", response_class=HTMLResponse)
def agent_desk(
    request: Request,
    q: str | None = Query(None, max_length=MAX_QUERY),
    runtime: Runtime = Depends(get_runtime),
    _: SignedIn = Depends(as_agent),
) -> Response:
    voice, now, zone = page_voice(request), runtime.clock.now(), runtime.settings.zone
    with runtime.reading() as session:
        results = _results(session, q, runtime.settings.default_region)
        context = {
            "q": q or "",
            "results": results,
            "incidents": _open_incidents(session, now=now, zone=zone, voice=voice),
            "replies": _recent_replies(session, now=now, zone=zone, voice=voice),
            "zone": zone,
        }
    return templates.TemplateResponse(request, "agent_home.html", context)


@router.get("/agent/search", response_class=HTMLResponse)
def agent_search(
    request: Request,
    q: str | None = Query(None, max_length=MAX_QUERY),
    runtime: Runtime = Depends(get_runtime),
    _: SignedIn = Depends(as_agent),
) -> Response:
    """The results alone, as HTML, for the search box's script to put in place."""
    with runtime.reading() as session:
        results = _results(session, q, runtime.settings.default_region)
    return templates.TemplateResponse(
        request, "agent_results.html", {"q": q or "", "results": results}
    )


def _results(session: Session, q: str | None, region: str) -> list[Customer] | None:
    if not (q and q.strip()):
        return None
    return search(session, q.strip(), region)


def search(session: Session, q: str, region: str) -> list[Customer]:
    """A whole phone number in any format: that number. Part of one, as the agent types it
    ("040 12"): numbers holding those digits, and ids, names or addresses holding the text (an
    id may be all digits). Anything else: by id, name or address."""
    phone_like = all(ch.isdigit() or ch in "+ -()" for ch in q)
    digits = "".join(ch for ch in q if ch.isdigit())
    if phone_like and len(digits) >= 6:
        try:
            found = customers.search_customers(
                session, phone=normalise_phone(q, region), limit=SEARCH_LIMIT
            )
        except RecordError:
            found = []
        if found:
            return found
    if phone_like and len(digits) >= 3:
        return _phone_or_text(session, digits, q)
    return customers.search_customers(session, q=q, limit=SEARCH_LIMIT)


def _phone_or_text(session: Session, digits: str, q: str) -> list[Customer]:
    """Numbers holding these digits, read as typed at home ("0401…" is "+358401…": a national
    number's leading 0 stands for the country code), or ids, names, addresses holding q."""
    needle = digits[1:] if digits.startswith("0") else digits
    query = select(Customer).where(
        or_(Customer.phone.contains(needle, autoescape=True), customers.text_matches(q))
    )
    return list(session.scalars(query.order_by(Customer.customer_id).limit(SEARCH_LIMIT)))


@dataclass
class OpenIncident:
    id: str
    external_id: str
    kind: str
    status: str
    cause: str | None
    customers: int
    estimate: words.Estimate
    started: str


def _open_incidents(
    session: Session, *, now: datetime, zone: ZoneInfo, voice: Voice
) -> list[OpenIncident]:
    """Outages, planned work under way and warnings in force, the newest first."""
    found = views.list_incidents(
        session, now=now, where=views.IncidentFilter(status="active"), limit=INCIDENTS_SHOWN
    )
    shown = [i for i in found if not _not_yet_started(i, now)]
    shown.sort(key=lambda i: i.started_at or i.starts_at or i.created_at, reverse=True)
    return [_open_incident(i, now=now, zone=zone, voice=voice) for i in shown]


def _not_yet_started(incident: Incident, now: datetime) -> bool:
    return (
        incident.kind == IncidentKind.PLANNED
        and incident.starts_at is not None
        and incident.starts_at > now
    )


def _open_incident(
    incident: Incident, *, now: datetime, zone: ZoneInfo, voice: Voice
) -> OpenIncident:
    began = incident.started_at or incident.starts_at or incident.created_at
    return OpenIncident(
        id=incident.id,
        external_id=incident.external_id,
        kind=words.kind_words(incident.kind, voice=voice),
        status=status_words(incident.kind, incident.status, voice=voice),
        cause=incident.cause,
        customers=incident.affected_count or 0,
        estimate=_estimate(incident, now=now, zone=zone, voice=voice),
        started=clock(began, now=now, zone=zone, voice=voice),
    )


def _estimate(incident: Any, *, now: datetime, zone: ZoneInfo, voice: Voice) -> words.Estimate:
    return words.estimate_words(
        kind=incident.kind,
        status=incident.status,
        etr=incident.etr,
        starts_at=incident.starts_at,
        ends_at=incident.ends_at,
        now=now,
        zone=zone,
        voice=voice,
    )


@dataclass
class Reply:
    customers: list[tuple[str, str | None]]  # (customer_id, name): all who have the number
    body: str
    keyword: str | None  # a reply's keyword; "report" for a report from the map or an agent
    when: str
    at: str
    source: str | None = None  # a report's: "web" or "agent"
    by: str | None = None  # the agent who took a report


def _recent_replies(
    session: Session, *, now: datetime, zone: ZoneInfo, voice: Voice
) -> list[Reply]:
    """The latest replies and reports from customers, newest first. A reply is on the timeline
    of every customer who has the number it came from: here it is shown once, with them all."""
    rows = session.execute(
        select(TimelineEvent, Customer.customer_id, Customer.name)
        .join(Customer, Customer.id == TimelineEvent.customer_pk)
        .where(
            or_(
                TimelineEvent.type == timeline.REPLY,
                # An SMS's report is shown as the reply that made it, so it is not read here.
                and_(
                    TimelineEvent.type == timeline.REPORT,
                    TimelineEvent.data["source"].as_string() != "sms",
                ),
            )
        )
        .order_by(TimelineEvent.at.desc(), TimelineEvent.id.desc())
        .limit(RECENT_REPLIES * 5)
    ).all()
    replies: dict[object, Reply] = {}
    for event, customer_id, name in rows:
        data = event.data or {}
        report = event.type == timeline.REPORT
        key = f"report-{event.id}" if report else (data.get("sid") or event.id)
        reply = replies.get(key)
        if reply is None:
            if len(replies) == RECENT_REPLIES:
                continue
            reply = replies[key] = Reply(
                customers=[],
                body=event.body or "",
                keyword="report" if report else data.get("keyword"),
                when=ago(event.at, now=now, voice=voice),
                at=event.at.isoformat(),
                source=data.get("source") if report else None,
                by=data.get("by") if report else None,
            )
        reply.customers.append((customer_id, name))
    return list(replies.values())


# ---- the customer ----------------------------------------------------------------------------


@router.get("/agent/customers/{customer_id}", response_class=HTMLResponse)
def agent_customer(
    customer_id: str,
    request: Request,
    done: str | None = Query(None, max_length=20),
    channel: str | None = Query(None, max_length=10),
    runtime: Runtime = Depends(get_runtime),
    _: SignedIn = Depends(as_agent),
) -> Response:
    voice = page_voice(request)
    confirmation = None
    if done in DONE:
        confirmation = voice.gettext(
            DONE[done],
            channel=words.channel_words(channel if channel in CHANNELS else "", voice=voice),
        )
    return _customer_page(request, runtime, customer_id, confirmation=confirmation)


def _customer_page(
    request: Request,
    runtime: Runtime,
    customer_id: str,
    *,
    confirmation: str | None = None,
    refused: str | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    voice, now, zone = page_voice(request), runtime.clock.now(), runtime.settings.zone
    with runtime.reading() as session:
        customer = _customer(session, customer_id)
        push = _push_count(session, customer.id)
        incidents = [
            i
            for i in customers.current_incidents(session, customer_pk=customer.id)
            if i.status in ACTIVE_STATUSES
        ]
        entries = customer_timeline(session, customer_pk=customer.id, zone=zone)
        reachable = _reachable(customer, push)
        context = {
            "customer": customer,
            "push_subscriptions": push,
            "opted_out": opted_out_channels(session, hasher=runtime.hasher, customer=customer),
            "chosen": (customer.channels or effective_channels(customer, has_push=push > 0)).split(
                ";"
            ),
            "channels_recorded": customer.channels is not None,
            "incidents": [_open_incident(i, now=now, zone=zone, voice=voice) for i in incidents],
            "groups": conversation(entries, now=now, zone=zone, voice=voice, reachable=reachable),
            "channel_names": {c: words.channel_words(c, voice=voice) for c in CHANNELS},
            "confirmation": confirmation,
            "refused": refused,
            "form": form or {},
            "max_note": MAX_NOTE,
            "max_report": MAX_REPORT_WORDS,
            "zone": zone,
        }
        return templates.TemplateResponse(
            request, "agent_customer.html", context, status_code=status
        )


def _customer(session: Session, customer_id: str) -> Customer:
    customer = customers.get_customer(session, customer_id=customer_id)
    if customer is None:
        raise PageRefusal(404, f"no customer {customer_id[:100]!r}")
    return customer


def _push_count(session: Session, customer_pk: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(PushSubscription)
            .where(PushSubscription.customer_pk == customer_pk)
        )
        or 0
    )


def _reachable(customer: Customer, push: int) -> list[str]:
    """The channels the customer has an address for (offered for a resend)."""
    present = {"sms": bool(customer.phone), "email": bool(customer.email), "push": push > 0}
    return [c for c in CHANNELS if present[c]]


# ---- the timeline as a conversation ----------------------------------------------------------


@dataclass
class Entry:
    side: str  # "us" (a message we sent), "customer", "agent", "system" (an incident's news)
    type: str
    at: str  # ISO 8601, for <time datetime>
    when: str  # local, in words
    title: str
    body: str = ""
    channel: str | None = None
    status: str | None = None  # delivered, sent, queued, failed, suppressed
    outcome: str = ""  # the status and why, in words
    to: str | None = None
    by: str | None = None
    reason: str | None = None
    changes: list[tuple[str, str, str]] = field(default_factory=list)
    notification_id: int | None = None
    resend_to: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)


@dataclass
class Group:
    incident_id: str | None
    title: str
    estimate: words.Estimate | None
    entries: list[Entry]
    latest: str


INCIDENT_EVENTS = {
    timeline.INCIDENT_AFFECTED: N_("Affected by %(what)s %(id)s"),
    timeline.INCIDENT_UPDATED: N_("News on %(what)s %(id)s"),
    timeline.INCIDENT_RELEASED: N_("No longer affected by %(what)s %(id)s"),
    timeline.INCIDENT_CLOSED: N_("%(what)s %(id)s is over"),
}


def conversation(
    entries: list[dict[str, Any]],
    *,
    now: datetime,
    zone: ZoneInfo,
    voice: Voice,
    reachable: list[str],
) -> list[Group]:
    """The timeline (oldest first, as timeline.views gives it) grouped by incident, the group
    with the latest news first and each group newest first. What is about no incident (a
    reply, a note) joins the incident the customer last heard about: that is what a reply
    answers and what a note is about."""
    groups: dict[str | None, Group] = {}
    current: str | None = None
    for raw in entries:
        incident_id = raw.get("incident_id")
        if incident_id:
            current = incident_id
        key = incident_id or current
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group(key, voice.gettext("Not about an incident"), None, [], "")
        if raw.get("incident"):
            group.title, group.estimate = _group_heading(raw["incident"], now, zone, voice)
        group.entries.append(_entry(raw, now=now, zone=zone, voice=voice, reachable=reachable))
        group.latest = raw["at"]
    ordered = sorted(groups.values(), key=lambda g: _moment(g.latest), reverse=True)
    for group in ordered:
        group.entries.reverse()
    return ordered


def _moment(iso_text: str) -> datetime:
    return parse_iso_aware(iso_text)


def _group_heading(
    data: dict[str, Any], now: datetime, zone: ZoneInfo, voice: Voice
) -> tuple[str, words.Estimate]:
    title = f"{words.kind_words(data.get('kind'), voice=voice)} {data.get('external_id', '')}"
    estimate = words.estimate_words(
        kind=str(data.get("kind")),
        status=str(data.get("status")),
        etr=_time(data.get("etr")),
        starts_at=_time(data.get("starts_at")),
        ends_at=_time(data.get("ends_at")),
        now=now,
        zone=zone,
        voice=voice,
    )
    return title.strip(), estimate


def _time(value: Any) -> datetime | None:
    return parse_iso_aware(value) if isinstance(value, str) else None


def _entry(
    raw: dict[str, Any], *, now: datetime, zone: ZoneInfo, voice: Voice, reachable: list[str]
) -> Entry:
    at = parse_iso_aware(raw["at"])
    base = {
        "type": raw["type"],
        "at": raw["at"],
        "when": clock(at, now=now, zone=zone, voice=voice),
    }
    kind = raw["type"]
    data = raw.get("data") or {}
    if kind == timeline.MESSAGE:
        return _message_entry(raw, base, now=now, zone=zone, voice=voice, reachable=reachable)
    if kind == timeline.REPLY:
        return Entry(
            side="customer",
            title=voice.gettext("The customer replied by SMS"),
            body=raw.get("body") or "",
            channel="sms",
            **base,
        )
    if kind == timeline.NOTE:
        return Entry(
            side="agent",
            title=voice.gettext("Note by %(name)s", name=data.get("by", "?")),
            body=raw.get("body") or "",
            by=data.get("by"),
            **base,
        )
    if kind == timeline.RESEND:
        return Entry(
            side="agent",
            title=voice.gettext(
                "%(name)s had it sent again by %(channel)s",
                name=data.get("by", "?"),
                channel=words.channel_words(raw.get("channel"), voice=voice),
            ),
            by=data.get("by"),
            **base,
        )
    if kind == timeline.PREFERENCE_CHANGED:
        return _preference_entry(raw, data, base, voice)
    if kind == timeline.COMPENSATION:
        return _compensation_entry(data, base, voice)
    if kind == timeline.REPORT:
        return _report_entry(raw, data, base, voice)
    if kind in INCIDENT_EVENTS:
        incident = raw.get("incident") or {}
        title = voice.gettext(
            INCIDENT_EVENTS[kind],
            what=words.kind_words(incident.get("kind"), voice=voice),
            id=incident.get("external_id", ""),
        )
        detail = [_status_words(incident, voice)]
        if incident.get("cause"):
            detail.append(voice.gettext("cause: %(cause)s", cause=incident["cause"]))
        return Entry(side="system", title=title, body=" · ".join(detail), **base)
    return Entry(side="system", title=kind.replace("_", " "), body=raw.get("body") or "", **base)


REPORT_WORDS = {
    "web": N_("The customer reported an outage on the outage map"),
    "sms": N_("The customer reported an outage by SMS"),
}


def _report_entry(
    raw: dict[str, Any], data: dict[str, Any], base: dict[str, Any], voice: Voice
) -> Entry:
    """An outage report: the customer's own (the map, an SMS), or one an agent took."""
    source = data.get("source")
    if source == "agent":
        title = voice.gettext(
            "%(name)s reported an outage for the customer", name=data.get("by", "?")
        )
        return Entry(
            side="agent", title=title, body=raw.get("body") or "", by=data.get("by"), **base
        )
    words = REPORT_WORDS.get(str(source), N_("The customer reported an outage"))
    return Entry(
        side="customer",
        title=voice.gettext(words),
        body=raw.get("body") or "",
        channel="sms" if source == "sms" else None,
        **base,
    )


def _compensation_entry(data: dict[str, Any], base: dict[str, Any], voice: Voice) -> Entry:
    """The band a caller is entitled to, and how long they have been without power as the
    Act counts it (events written before the duration was kept show the band alone)."""
    title = voice.gettext(
        "Standard compensation: %(percent)s per cent of the annual network fee",
        percent=data.get("percent", "?"),
    )
    minutes = data.get("duration_minutes")
    detail = []
    if isinstance(minutes, int):
        detail.append(
            voice.ngettext(
                "Without power for %(n)s hour, outages resumed within two hours counted as one.",
                "Without power for %(n)s hours, outages resumed within two hours counted as one.",
                minutes // 60,
            )
        )
    detail.append(voice.gettext("Paid automatically on a later bill, with no need to apply."))
    return Entry(side="system", title=title, body=" ".join(detail), **base)


def _status_words(incident: dict[str, Any], voice: Voice) -> str:
    try:
        return status_words(str(incident.get("kind")), str(incident.get("status")), voice=voice)
    except ValueError:  # an event written before kinds or statuses were what they are now
        return str(incident.get("status") or "").replace("_", " ")


def _message_entry(
    raw: dict[str, Any],
    base: dict[str, Any],
    *,
    now: datetime,
    zone: ZoneInfo,
    voice: Voice,
    reachable: list[str],
) -> Entry:
    channel = raw.get("channel")
    subject = raw.get("subject") if channel == "email" else None
    body = raw.get("body") or ""
    steps = [
        f"{words.delivery_words(step['status'], step['reason'], voice=voice)} "
        f"{clock(parse_iso_aware(step['at']), now=now, zone=zone, voice=voice)}"
        for step in raw.get("history", [])[1:]
    ]
    # What went out on a channel of its own (the in-app feed is a copy of the news).
    resendable = (
        raw.get("notification_id") is not None
        and raw.get("incident_id") is not None
        and channel in CHANNELS
    )
    return Entry(
        side="us",
        title=voice.gettext(
            "%(channel)s · %(what)s",
            channel=words.channel_words(channel, voice=voice),
            what=words.message_words(raw.get("kind"), voice=voice),
        ),
        body=f"{subject}\n\n{body}" if subject else body,
        channel=channel,
        status=raw.get("status"),
        outcome=words.delivery_words(raw.get("status"), raw.get("reason"), voice=voice),
        to=raw.get("to"),
        notification_id=raw.get("notification_id"),
        resend_to=[c for c in reachable if c != channel] if resendable else [],
        steps=steps,
        **base,
    )


# What the replies service writes when a number says STOP or START (customers/replies.py).
REPLY_CHANGES = {
    "SMS opted out (STOP)": N_("Opted out of SMS by replying STOP"),
    "SMS opted back in (START)": N_("Opted back in to SMS by replying START"),
}


def _preference_entry(
    raw: dict[str, Any], data: dict[str, Any], base: dict[str, Any], voice: Voice
) -> Entry:
    by = data.get("by")
    changes = [
        (words.field_words(name, voice=voice), _shown(old, voice), _shown(new, voice))
        for name, (old, new) in (data.get("changes") or {}).items()
    ]
    title = (
        voice.gettext("Preferences changed by %(name)s", name=by)
        if by
        else voice.gettext("Preferences changed")
    )
    return Entry(
        side="agent" if by else "customer",
        title=title,
        body="" if changes else _reply_change(raw.get("body") or "", voice),
        by=by,
        reason=data.get("reason") or raw.get("reason"),
        changes=changes,
        **base,
    )


def _reply_change(body: str, voice: Voice) -> str:
    known = REPLY_CHANGES.get(body)
    return voice.gettext(known) if known else body


def _shown(value: Any, voice: Voice) -> str:
    if value is None or value == "":
        return voice.gettext("none")
    if isinstance(value, str) and value in i18n.NAMES:
        return i18n.NAMES[value]
    if (isinstance(value, str) and ";" in value) or value in CHANNELS:
        return ", ".join(words.channel_words(c, voice=voice) for c in str(value).split(";"))
    return str(value)


# ---- quick actions ---------------------------------------------------------------------------


def _back(customer_id: str, done: str, **extra: str) -> Response:
    query = "&".join(f"{k}={quote(v)}" for k, v in {"done": done, **extra}.items())
    target = f"/agent/customers/{quote(customer_id, safe='')}?{query}#confirmation"
    return RedirectResponse(target, status_code=303)


def _refused(
    request: Request,
    runtime: Runtime,
    customer_id: str,
    refusal: ActionRefused,
    form: dict[str, Any],
) -> Response:
    voice = page_voice(request)
    params = dict(refusal.params)
    if "channel" in params:
        params["channel"] = words.channel_words(str(params["channel"]), voice=voice)
    sentence = REFUSALS.get(refusal.code or "")
    message = voice.gettext(sentence, **params) if sentence else refusal.message
    return _customer_page(
        request, runtime, customer_id, refused=message, form=form, status=refusal.status
    )


@router.post("/agent/customers/{customer_id}/notes", response_class=HTMLResponse)
def post_note(
    customer_id: str,
    request: Request,
    text: str = Form("", max_length=20_000),
    runtime: Runtime = Depends(get_runtime),
    user: SignedIn = Depends(as_agent),
) -> Response:
    return _words_action(request, runtime, customer_id, user, text, add_note, done="note")


@router.post("/agent/customers/{customer_id}/report", response_class=HTMLResponse)
def post_report(
    customer_id: str,
    request: Request,
    text: str = Form("", max_length=20_000),
    runtime: Runtime = Depends(get_runtime),
    user: SignedIn = Depends(as_agent),
) -> Response:
    """The caller says their power is out: a report at their service location, on the
    operators' map (clustered with others near it) and on the timeline."""
    return _words_action(request, runtime, customer_id, user, text, take_report, done="report")


def _words_action(
    request: Request,
    runtime: Runtime,
    customer_id: str,
    user: SignedIn,
    text: str,
    act: Callable[..., object],
    *,
    done: str,
) -> Response:
    """An action that writes the agent's words on the customer's timeline (a note, a report):
    done, back to the page saying so; refused, the page with why and the words kept."""
    try:
        with runtime.transaction() as session:
            customer = _customer(session, customer_id)
            act(
                session,
                customer_pk=customer.id,
                text=text,
                by=user.username,
                now=runtime.clock.now(),
            )
    except ActionRefused as refusal:
        return _refused(request, runtime, customer_id, refusal, {done: text})
    return _back(customer_id, done)


@router.post("/agent/customers/{customer_id}/resend", response_class=HTMLResponse)
def post_resend(
    customer_id: str,
    request: Request,
    notification_id: int = Form(..., ge=1, le=MAX_ID),
    channel: str = Form(..., max_length=10),
    runtime: Runtime = Depends(get_runtime),
    user: SignedIn = Depends(as_agent),
) -> Response:
    try:
        with runtime.transaction() as session:
            customer = _customer(session, customer_id)
            resent = resend_on_channel(
                session,
                customer=customer,
                notification_id=notification_id,
                channel=channel,
                by=user.username,
                renderer=runtime.renderer,
                hasher=runtime.hasher,
                now=runtime.clock.now(),
            )
    except ActionRefused as refusal:
        return _refused(request, runtime, customer_id, refusal, {})
    runtime.dispatcher.wake()  # queued in the outbox: the dispatcher sends it now
    return _back(customer_id, "resend", channel=resent.channel)


@router.post("/agent/customers/{customer_id}/preferences", response_class=HTMLResponse)
def post_preferences(
    customer_id: str,
    request: Request,
    channels: list[str] = Form([]),
    quiet_hours: str = Form("", max_length=40),
    language: str = Form("", max_length=10),
    reason: str = Form("", max_length=2_000),
    runtime: Runtime = Depends(get_runtime),
    user: SignedIn = Depends(as_agent),
) -> Response:
    form = {
        "channels": channels,
        "quiet_hours": quiet_hours,
        "language": language,
        "reason": reason,
    }
    try:
        with runtime.transaction() as session:
            customer = _customer(session, customer_id)
            change_preferences(
                session,
                customer=customer,
                channels=channels[:10],
                quiet_hours=quiet_hours,
                language=language,
                reason=reason,
                by=user.username,
                has_push=_push_count(session, customer.id) > 0,
                now=runtime.clock.now(),
            )
    except ActionRefused as refusal:
        return _refused(request, runtime, customer_id, refusal, form)
    return _back(customer_id, "preferences")
