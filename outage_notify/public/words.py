"""The public map's times, states and counts in plain words, in the reader's language: each a
whole sentence or a whole phrase with placeholders, looked up in the pages' message catalogs
(outage_notify/web/locale) through the `Voice` passed in; dates and numbers in the language's
own format (Babel). Without a voice, English (the msgids themselves). Pure: no database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from gettext import NullTranslations
from zoneinfo import ZoneInfo

from babel.core import Locale
from babel.dates import format_skeleton
from babel.numbers import format_decimal

from outage_notify.incidents.model import IncidentKind, Status
from outage_notify.public.privacy import MIN_PUBLIC_COUNT


def N_(message: str) -> str:  # the name pybabel extract looks for
    """Marks a message for the catalogs where it is defined; translated where it is used."""
    return message


@dataclass(frozen=True)
class Voice:
    """A language to say things in: its catalog and its locale's formats."""

    translations: NullTranslations = field(default_factory=NullTranslations)
    locale: Locale = field(default_factory=lambda: Locale.parse("en_GB"))

    def gettext(self, message: str, **values: object) -> str:
        """The message in this language, its %(name)s placeholders filled in."""
        translated = self.translations.gettext(message)
        return translated % values if values else translated

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        """The form of the message for n (%(n)s in it), as the language counts."""
        return self.translations.ngettext(singular, plural, n) % {"n": n, **values}


ENGLISH = Voice()

STATUS_WORDS = {
    (IncidentKind.UNPLANNED, Status.DETECTED): N_("Reported: the cause is being found"),
    (IncidentKind.UNPLANNED, Status.CREW_ASSIGNED): N_("A crew is on its way"),
    (IncidentKind.UNPLANNED, Status.IN_PROGRESS): N_("Repair under way"),
    (IncidentKind.PLANNED, Status.DETECTED): N_("Scheduled"),
    (IncidentKind.PLANNED, Status.CREW_ASSIGNED): N_("Scheduled: a crew is assigned"),
    (IncidentKind.PLANNED, Status.IN_PROGRESS): N_("Work under way"),
    (IncidentKind.WARNING, Status.DETECTED): N_("In force"),
    (IncidentKind.WARNING, Status.CREW_ASSIGNED): N_("In force"),
    (IncidentKind.WARNING, Status.IN_PROGRESS): N_("In force"),
}


def status_words(kind: str, status: str, *, voice: Voice = ENGLISH) -> str:
    words = STATUS_WORDS.get((IncidentKind(kind), Status(status)))
    return voice.gettext(words) if words else status.replace("_", " ")


def count_words(count: int, *, voice: Voice = ENGLISH) -> str:
    """How many customers, as the public may read it."""
    if count < MIN_PUBLIC_COUNT:
        return voice.ngettext(
            "fewer than %(n)s customer", "fewer than %(n)s customers", MIN_PUBLIC_COUNT
        )
    number = format_decimal(count, locale=voice.locale)
    return voice.ngettext("%(number)s customer", "%(number)s customers", count, number=number)


def clock(moment: datetime, *, now: datetime, zone: ZoneInfo, voice: Voice = ENGLISH) -> str:
    """A local time, with the day said the way people say it: "21:30 today"."""
    local, today = moment.astimezone(zone), now.astimezone(zone).date()
    time = format_skeleton("Hm", local, locale=voice.locale)
    days = (local.date() - today).days
    if days == 0:
        return voice.gettext("%(time)s today", time=time)
    if days == 1:
        return voice.gettext("%(time)s tomorrow", time=time)
    if days == -1:
        return voice.gettext("%(time)s yesterday", time=time)
    day = format_skeleton("MMMEd", local, locale=voice.locale)
    return voice.gettext("%(time)s on %(day)s", time=time, day=day)


def span(delta: timedelta, *, voice: Voice = ENGLISH) -> str:
    """A duration rounded the way people round it: "25 minutes", "about 2 hours"."""
    minutes = max(0, round(delta.total_seconds() / 60))
    if minutes < 1:
        return voice.gettext("less than a minute")
    if minutes < 60:
        return voice.ngettext("%(n)s minute", "%(n)s minutes", minutes)
    hours = round(minutes / 60)
    if hours < 48:
        return voice.ngettext("about %(n)s hour", "about %(n)s hours", hours)
    return voice.ngettext("about %(n)s day", "about %(n)s days", round(hours / 24))


def ago(moment: datetime, *, now: datetime, voice: Voice = ENGLISH) -> str:
    if now - moment < timedelta(minutes=1):
        return voice.gettext("just now")
    return voice.gettext("%(span)s ago", span=span(now - moment, voice=voice))


def etr_words(
    etr: datetime | None, *, now: datetime, zone: ZoneInfo, voice: Voice = ENGLISH
) -> str:
    """When the power is expected back, or why no time is given."""
    if etr is None:
        return voice.gettext("No estimate yet: the damage is still being assessed.")
    when = clock(etr, now=now, zone=zone, voice=voice)
    if etr <= now:
        return voice.gettext(
            "The estimate of %(when)s has passed. A new estimate will follow.", when=when
        )
    return voice.gettext(
        "Expected back by %(when)s (in %(span)s).", when=when, span=span(etr - now, voice=voice)
    )


def window_words(
    starts: datetime | None,
    ends: datetime | None,
    *,
    now: datetime,
    zone: ZoneInfo,
    voice: Voice = ENGLISH,
) -> str:
    """A planned break or a warning's validity: "from 04:00 tomorrow to 06:00 tomorrow"."""
    start = clock(starts, now=now, zone=zone, voice=voice) if starts else None
    end = clock(ends, now=now, zone=zone, voice=voice) if ends else None
    if start and end:
        return voice.gettext("From %(start)s to %(end)s.", start=start, end=end)
    if start:
        return voice.gettext("From %(start)s, until further notice.", start=start)
    if end:
        return voice.gettext("Until %(end)s.", end=end)
    return voice.gettext("Until further notice.")
