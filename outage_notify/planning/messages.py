"""Message text: Jinja2 templates per channel, kind and language, rendered for each customer.

templates/messages/<channel>/<kind>.<lang>.j2:
  sms:   the text; `compact` is true for the shorter wording tried when the full one costs
         more SMS segments.
  email: blocks `subject` and `body` (plain text, paragraphs split by blank lines); the HTML
         part is the body laid into email/layout.html.j2, autoescaped.
  push:  blocks `title` and `body`. The in-app feed shows the push title with the email body.

Rendering is per (incident state, kind, language, channel) with the address left as a marker
that each customer's own address then replaces: a storm touching 500,000 customers renders a
handful of templates, not millions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template
from markupsafe import escape

from outage_notify.incidents.model import IncidentValue, MessageKind
from outage_notify.ingest.text import one_line
from outage_notify.planning import sms
from outage_notify.planning.vocabulary import cause_text, severity_text, status_text

ADDRESS_MARK = "\x00ADDRESS\x00"
LOCALES = {"fi": "fi_FI", "sv": "sv_FI", "en": "en_GB"}
TIME_PATTERNS = {"fi": "'klo' H.mm", "sv": "'kl.' H.mm", "en": "HH:mm"}
DATE_TIME_PATTERNS = {
    "fi": "EEE d.M. 'klo' H.mm",
    "sv": "EEE d.M. 'kl.' H.mm",
    "en": "EEE d MMM HH:mm",
}


@dataclass(frozen=True)
class Rendered:
    body: str
    subject: str | None = None
    html: str | None = None
    compact: str | None = None  # SMS only, before fitting: the shorter wording
    sms: sms.SmsText | None = None  # SMS only, after fitting: encoding and segments


@dataclass
class MessageRenderer:
    templates_dir: Path
    zone: ZoneInfo
    _env: Environment = field(init=False, repr=False)
    _html_env: Environment = field(init=False, repr=False)

    def __post_init__(self) -> None:
        loader = FileSystemLoader(str(self.templates_dir / "messages"))
        # Message text is not HTML: escaping it would put "&amp;" into an SMS.
        self._env = Environment(
            loader=loader, autoescape=False, undefined=StrictUndefined, keep_trailing_newline=False
        )
        self._html_env = Environment(loader=loader, autoescape=True, undefined=StrictUndefined)
        self._group = lru_cache(maxsize=4096)(self._render_group)

    def render(
        self,
        *,
        kind: MessageKind,
        channel: str,
        language: str,
        incident: IncidentValue,
        now: datetime,
        address: str | None,
        later: bool | None = None,
        compensation_percent: int | None = None,
        outage_hours: int | None = None,
    ) -> Rendered:
        """The message for one customer. `later`: their ETR moved later (True), earlier (False),
        or they hear the first estimate (None). `compensation_percent`: the standard-compensation
        band of their outage so far (for `compensation`, and for `restored` after a long
        outage); `outage_hours`: the threshold their outage has passed (for `compensation`)."""
        if kind is MessageKind.COMPENSATION and (
            compensation_percent is None or outage_hours is None
        ):
            # A compensation notice without its figures would tell the customer nothing.
            raise ValueError("compensation needs compensation_percent and outage_hours")
        group = self._group(
            kind,
            channel,
            language,
            incident,
            now,
            bool(address),
            later,
            compensation_percent,
            outage_hours,
        )
        # An address is one line wherever it goes: it must not split an SMS or a subject.
        return _personalise(group, one_line(address or "").strip())

    def render_group(
        self,
        *,
        kind: MessageKind,
        channel: str,
        language: str,
        incident: IncidentValue,
        now: datetime,
        has_address: bool,
        later: bool | None = None,
        compensation_percent: int | None = None,
        outage_hours: int | None = None,
    ) -> Rendered:
        """The text every customer of a group gets, the address a marker (ADDRESS_MARK); an
        SMS has both wordings (`body` and `compact`), not yet fitted."""
        return self._group(
            kind,
            channel,
            language,
            incident,
            now,
            has_address,
            later,
            compensation_percent,
            outage_hours,
        )

    def reply(self, keyword: str, language: str) -> str:
        """The answer to an SMS keyword ("stop", "start") in the customer's language."""
        return _clean(self._env.get_template(f"sms/reply_{keyword}.{language}.j2").render())

    def _render_group(
        self,
        kind: MessageKind,
        channel: str,
        language: str,
        incident: IncidentValue,
        now: datetime,
        has_address: bool,
        later: bool | None,
        compensation_percent: int | None,
        outage_hours: int | None,
    ) -> Rendered:
        context = self._context(
            kind,
            language,
            incident,
            now,
            has_address,
            later,
            compensation_percent=compensation_percent,
            outage_hours=outage_hours,
        )
        if channel == "sms":
            return self._render_sms(kind, language, context)
        if channel == "email":
            return self._render_email(kind, language, context)
        if channel == "push":
            return self._render_blocks("push", kind, language, context, "title", "body")
        if channel == "in_app":
            title = self._render_blocks("push", kind, language, context, "title", "body").subject
            text = self._render_blocks("email", kind, language, context, "subject", "body").body
            return Rendered(subject=title, body=text)
        raise ValueError(f"unknown channel {channel!r}")

    def _render_sms(self, kind: MessageKind, language: str, context: dict[str, Any]) -> Rendered:
        template = self._template("sms", kind, language)
        full = _clean(template.render(context, compact=False))
        compact = _clean(template.render(context, compact=True))
        return Rendered(body=full, compact=compact)

    def _render_email(self, kind: MessageKind, language: str, context: dict[str, Any]) -> Rendered:
        blocks = self._render_blocks("email", kind, language, context, "subject", "body")
        paragraphs = [p.strip() for p in blocks.body.split("\n\n") if p.strip()]
        layout = self._html_env.get_template("email/layout.html.j2")
        html = layout.render(subject=blocks.subject, paragraphs=paragraphs, lang=language)
        return Rendered(subject=blocks.subject, body=blocks.body, html=html)

    def _render_blocks(
        self,
        channel: str,
        kind: MessageKind,
        language: str,
        context: dict[str, Any],
        first: str,
        second: str,
    ) -> Rendered:
        template = self._template(channel, kind, language)
        ctx = template.new_context(context)
        head = _clean("".join(template.blocks[first](ctx)))
        text = "".join(template.blocks[second](template.new_context(context))).strip()
        return Rendered(subject=head, body=_tidy_paragraphs(text))

    def _template(self, channel: str, kind: MessageKind, language: str) -> Template:
        return self._env.get_template(f"{channel}/{kind.value}.{language}.j2")

    def _context(
        self,
        kind: MessageKind,
        language: str,
        incident: IncidentValue,
        now: datetime,
        has_address: bool,
        later: bool | None,
        *,
        compensation_percent: int | None,
        outage_hours: int | None,
    ) -> dict[str, Any]:
        when = _When(self.zone, language, now)
        return {
            "address": ADDRESS_MARK if has_address else "",
            "cause": cause_text(incident.cause, language),
            "status_text": status_text(incident.status, language),
            "message": _message_in(incident.message, language),
            "since": when.at(incident.started_at or now),  # stored incidents always have it
            # An estimate already past is no estimate: customers never read a time gone by.
            "etr": when.at(incident.etr) if incident.etr and incident.etr > now else None,
            "starts": when.at(incident.starts_at) if incident.starts_at else None,
            "ends": when.until(incident.ends_at, incident.starts_at) if incident.ends_at else None,
            "now": when.at(now),
            "planned": incident.kind == "planned",
            # A weather warning: its own headline where its sender wrote one in the reader's
            # language (never another language's: our own wording is better then), the level.
            "headline": _exactly_in(incident.message, language) if incident.warning else None,
            "severity": severity_text(incident.severity, language),
            "later": later,
            "compensation_percent": compensation_percent,  # a band: 10, 25, 50, 100, 150, 200
            "outage_hours": outage_hours,  # the threshold the outage has passed, e.g. 12
        }


@dataclass(frozen=True)
class _When:
    """Times as a person in the deployment's zone reads them: time alone when it is today."""

    zone: ZoneInfo
    language: str
    now: datetime

    def at(self, moment: datetime) -> str:
        local = moment.astimezone(self.zone)
        same_day = local.date() == self.now.astimezone(self.zone).date()
        return self._format(local, TIME_PATTERNS if same_day else DATE_TIME_PATTERNS)

    def until(self, end: datetime, start: datetime | None) -> str:
        """The end of a window: time alone when it ends on the day it starts."""
        if start is None:
            return self.at(end)
        local_end, local_start = end.astimezone(self.zone), start.astimezone(self.zone)
        same_day = local_end.date() == local_start.date()
        return self._format(local_end, TIME_PATTERNS if same_day else DATE_TIME_PATTERNS)

    def _format(self, local: datetime, patterns: dict[str, str]) -> str:
        text = format_datetime(local, patterns[self.language], locale=LOCALES[self.language])
        return text.replace("\u202f", " ").replace("\u00a0", " ")


def _message_in(message: str | tuple[tuple[str, str], ...] | None, language: str) -> str | None:
    """The operator's note in the reader's language; failing that, in any language given,
    since a note in another language still beats silence on storm night."""
    if message is None or isinstance(message, str):
        return message or None
    by_language = dict(message)
    for choice in (language, "en", "fi", "sv"):
        if by_language.get(choice):
            return by_language[choice]
    return None


def _exactly_in(message: str | tuple[tuple[str, str], ...] | None, language: str) -> str | None:
    if message is None or isinstance(message, str):
        return None
    # The templates end the sentence themselves.
    return (dict(message).get(language) or "").strip().rstrip(".") or None


def _personalise(group: Rendered, address: str) -> Rendered:
    body = group.body.replace(ADDRESS_MARK, address)
    subject = group.subject.replace(ADDRESS_MARK, address) if group.subject else group.subject
    html = group.html.replace(ADDRESS_MARK, str(escape(address))) if group.html else None
    if group.compact is not None:
        # Segments are counted once the address is in: it can tip a text into a second part.
        chosen = sms.cheapest(body, group.compact.replace(ADDRESS_MARK, address))
        return Rendered(body=chosen.text, sms=chosen)
    return Rendered(body=body, subject=subject, html=html)


_SPACES = re.compile(r"[ \t]+")


def _clean(text: str) -> str:
    """One line, single spaces: templates spread over lines for readability."""
    return _SPACES.sub(" ", " ".join(text.split("\n"))).strip()


def _tidy_paragraphs(text: str) -> str:
    paragraphs = [_clean(p) for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paragraphs if p)
