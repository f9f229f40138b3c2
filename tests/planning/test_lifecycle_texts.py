"""The lifecycle texts of issue 10 with the real templates: a missed estimate, reassurance in a
long outage, the planned-work reminder, standard compensation, and `restored` with its reply
invitation and final compensation band. Never a time gone by; an SMS costs at most two parts."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from outage_notify.incidents.model import IncidentValue, MessageKind
from outage_notify.planning import sms
from outage_notify.planning.messages import MessageRenderer, Rendered
from outage_notify.planning.vocabulary import CAUSES, STATUS_TEXT
from tests.planning.test_messages import (
    ADDRESS,
    CHANNELS,
    ETR,
    LANGUAGES,
    MESSAGES,
    NOW,
    check_channel_shape,
    everything,
    outage,
    planned,
)

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
NEW_KINDS = (
    MessageKind.ETR_MISSED,
    MessageKind.REASSURANCE,
    MessageKind.PLANNED_REMINDER,
    MessageKind.COMPENSATION,
)
INCIDENT_FOR = {
    MessageKind.ETR_MISSED: outage,
    MessageKind.REASSURANCE: outage,
    MessageKind.PLANNED_REMINDER: planned,
    MessageKind.COMPENSATION: outage,
}
BANDS = (10, 25, 50, 100, 150, 200)
HOURS_FOR_BAND = dict(zip(BANDS, (12, 24, 72, 120, 192, 288), strict=True))
ADDRESS_40 = "Pohjoisesplanadi 11-13 B 45, 00100 Espoo"
assert len(ADDRESS_40) == 40
LONG_NOTE = "Pysy kaukana kaatuneista johdoista ja soita hätänumeroon 112, jos näet vaaran."

# Local (Helsinki) times in the fixtures of test_messages: started 21.38, now 21.45, ETR 23.30.
SINCE_TEXT = {"fi": "klo 21.38", "sv": "kl. 21.38", "en": "21:38"}
ETR_TEXT = {"fi": "klo 23.30", "sv": "kl. 23.30", "en": "23:30"}
A_TIME = re.compile(r"\b\d{1,2}[.:]\d{2}\b")

REPLY_INVITATION = {
    "fi": "Vieläkin ilman sähköä? Vastaa EI SÄHKÖÄ.",
    "sv": "Fortfarande strömlös? Svara STRÖMLÖS.",
    "en": "Still without power? Reply OUT.",
}
THANKS = {"fi": "Kiitos", "sv": "Tack", "en": "Thank you"}
COMPENSATION_WORD = {"fi": "vakiokorvau", "sv": "standardersättning", "en": "standard compensation"}
FEE_WORDS = {
    "fi": "vuotuisesta verkkopalvelumaksustasi",
    "sv": "årliga nätavgift",
    "en": "annual network fee",
}
AUTOMATIC = {"fi": "automaattisesti", "sv": "automatiskt", "en": "automatically"}
LONGER = {"fi": "kestää arvioitua kauemmin", "sv": "tar längre tid", "en": "taking longer"}


def percent(band: int, language: str) -> str:
    # Finnish and Swedish put a space before the per cent sign; British English does not.
    return f"{band}%" if language == "en" else f"{band} %"


@pytest.fixture(scope="module")
def renderer() -> MessageRenderer:
    return MessageRenderer(TEMPLATES, ZoneInfo("Europe/Helsinki"))


def render(
    renderer: MessageRenderer,
    kind: MessageKind,
    channel: str,
    language: str,
    incident: IncidentValue | None = None,
    *,
    now: datetime = NOW,
    address: str | None = ADDRESS,
    **figures: Any,
) -> Rendered:
    if kind is MessageKind.COMPENSATION and not figures:
        figures = {"compensation_percent": 10, "outage_hours": 12}
    return renderer.render(
        kind=kind,
        channel=channel,
        language=language,
        incident=incident or INCIDENT_FOR.get(kind, outage)(),
        now=now,
        address=address,
        **figures,
    )


# ---- every combination ---------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("kind", NEW_KINDS)
def test_every_new_kind_renders(
    renderer: MessageRenderer, kind: MessageKind, channel: str, language: str
) -> None:
    for address, cause, etr, message in itertools.product(
        [None, ADDRESS], [None, "fallen tree"], [None, ETR], MESSAGES
    ):
        incident = INCIDENT_FOR[kind](cause=cause, etr=etr, message=message)
        rendered = render(renderer, kind, channel, language, incident, address=address)
        text = everything(rendered)
        assert rendered.body.strip(), (kind, channel, language)
        assert "None" not in text and "\x00" not in text
        assert "{{" not in text and "{%" not in text
        if address:
            assert address in f"{rendered.subject} {rendered.body}"
        else:
            assert ADDRESS not in text
            assert not re.search(r"\b(osoitteessa|på|at)\s*[.:,(]", rendered.body), rendered.body
        check_channel_shape(rendered, channel, language)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_restored_renders_with_and_without_a_band(
    renderer: MessageRenderer, channel: str, language: str
) -> None:
    for address, band in itertools.product([None, ADDRESS], [None, *BANDS]):
        rendered = render(
            renderer,
            MessageKind.RESTORED,
            channel,
            language,
            address=address,
            compensation_percent=band,
        )
        text = everything(rendered)
        assert "None" not in text and "{{" not in text
        check_channel_shape(rendered, channel, language)
        if band is None:
            assert COMPENSATION_WORD[language] not in text.lower()
        else:
            assert percent(band, language) in rendered.body
            assert COMPENSATION_WORD[language] in rendered.body.lower()
            assert AUTOMATIC[language] in rendered.body


# ---- etr_missed ----------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_etr_missed_without_a_new_estimate_names_no_time_at_all(
    renderer: MessageRenderer, channel: str, language: str
) -> None:
    rendered = render(renderer, MessageKind.ETR_MISSED, channel, language, outage(etr=None))
    text = everything(rendered)
    assert not A_TIME.search(text), text
    assert LONGER[language] in text


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_etr_missed_with_a_new_estimate_names_it_and_no_other_time(
    renderer: MessageRenderer, channel: str, language: str
) -> None:
    rendered = render(renderer, MessageKind.ETR_MISSED, channel, language, outage(etr=ETR))
    text = f"{rendered.subject or ''} {rendered.body}"
    assert ETR_TEXT[language] in text
    assert set(A_TIME.findall(text)) == {ETR_TEXT[language].split()[-1]}
    assert LONGER[language] in text


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(
    "kind", [MessageKind.ETR_MISSED, MessageKind.REASSURANCE, MessageKind.OUTAGE]
)
def test_an_estimate_already_past_is_never_shown(
    renderer: MessageRenderer, kind: MessageKind, channel: str, language: str
) -> None:
    """A feed's ETR that has gone by (21.40, now 21.45) reads as "no estimate yet"."""
    gone = outage(etr=NOW - timedelta(minutes=5))
    text = everything(render(renderer, kind, channel, language, gone))
    assert "21.40" not in text and "21:40" not in text
    assert "None" not in text
    for time in A_TIME.findall(text):  # only the start, and for these kinds nothing else
        assert time == SINCE_TEXT[language].split()[-1], text


# ---- reassurance ---------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_reassurance_says_since_when_the_status_and_the_estimate(
    renderer: MessageRenderer, channel: str, language: str
) -> None:
    for status, etr in itertools.product(STATUS_TEXT, [None, ETR]):
        incident = outage(status=status, etr=etr)
        rendered = render(renderer, MessageKind.REASSURANCE, channel, language, incident)
        text = f"{rendered.subject or ''} {rendered.body}"
        assert SINCE_TEXT[language] in text
        assert (ETR_TEXT[language] in text) is (etr is not None)
        if channel != "sms":  # an SMS may drop the status to stay in one part
            assert STATUS_TEXT[status][language] in text


def test_reassurance_sms_keeps_the_status_when_it_fits(renderer: MessageRenderer) -> None:
    for language in LANGUAGES:
        body = render(renderer, MessageKind.REASSURANCE, "sms", language, address="Kotikatu 1").body
        assert STATUS_TEXT["crew_assigned"][language] in body


# ---- planned_reminder ----------------------------------------------------------------------

WINDOW = {
    "fi": "pe 27.11. klo 9.00 - klo 13.00",
    "sv": "fre 27.11. kl. 9.00 - kl. 13.00",
    "en": "Fri 27 Nov 09:00 - 13:00",
}
TIP = {"fi": "Irrota herkät laitteet", "sv": "känslig elektronik", "en": "nplug sensitive"}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_planned_reminder_gives_the_window_the_address_and_a_tip(
    renderer: MessageRenderer, channel: str, language: str
) -> None:
    rendered = render(renderer, MessageKind.PLANNED_REMINDER, channel, language)
    text = everything(rendered)
    assert WINDOW[language] in text
    assert TIP[language] in text
    assert ADDRESS in f"{rendered.subject} {rendered.body}"
    assert CAUSES["maintenance"][language] in text


# ---- compensation --------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_compensation_names_the_band_the_hours_and_that_it_is_automatic(
    renderer: MessageRenderer, channel: str, language: str
) -> None:
    for band, hours in HOURS_FOR_BAND.items():
        rendered = render(
            renderer,
            MessageKind.COMPENSATION,
            channel,
            language,
            compensation_percent=band,
            outage_hours=hours,
        )
        text = f"{rendered.subject or ''} {rendered.body}"
        assert percent(band, language) in rendered.body
        assert f" {hours} " in rendered.body
        assert COMPENSATION_WORD[language] in text.lower()
        assert FEE_WORDS[language] in rendered.body
        assert AUTOMATIC[language] in rendered.body


@pytest.mark.parametrize(
    "figures", [{}, {"compensation_percent": 10}, {"outage_hours": 12}], ids=str
)
def test_compensation_without_its_figures_is_refused(
    renderer: MessageRenderer, figures: dict[str, int]
) -> None:
    with pytest.raises(ValueError, match="compensation_percent"):
        renderer.render(
            kind=MessageKind.COMPENSATION,
            channel="sms",
            language="fi",
            incident=outage(),
            now=NOW,
            address=ADDRESS,
            **figures,
        )


def test_the_band_is_part_of_the_cache_key(renderer: MessageRenderer) -> None:
    low = render(renderer, MessageKind.RESTORED, "sms", "en", compensation_percent=10)
    high = render(renderer, MessageKind.RESTORED, "sms", "en", compensation_percent=200)
    none = render(renderer, MessageKind.RESTORED, "sms", "en")
    assert "10%" in low.body and "200%" in high.body
    assert "%" not in none.body
    twelve = render(
        renderer, MessageKind.COMPENSATION, "sms", "en", compensation_percent=10, outage_hours=12
    )
    day = render(
        renderer, MessageKind.COMPENSATION, "sms", "en", compensation_percent=10, outage_hours=24
    )
    assert "over 12 hours" in twelve.body and "over 24 hours" in day.body


# ---- restored: the reply invitation --------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("band", [None, 25])
def test_restored_sms_invites_a_reply_in_full_and_compact_wording(
    renderer: MessageRenderer, language: str, band: int | None
) -> None:
    compact_seen = False
    for length in range(1, 130):
        address = ("Kotikatu 1 " * 12)[:length].strip()
        body = render(
            renderer,
            MessageKind.RESTORED,
            "sms",
            language,
            address=address,
            compensation_percent=band,
        ).body
        assert body.endswith(REPLY_INVITATION[language]), body
        if band is not None:
            assert percent(band, language) in body
        compact_seen |= THANKS[language] not in body
    assert compact_seen  # some address length made the shorter wording the cheaper one


@pytest.mark.parametrize("language", LANGUAGES)
def test_restored_sms_of_a_short_outage_is_one_part(
    renderer: MessageRenderer, language: str
) -> None:
    rendered = render(renderer, MessageKind.RESTORED, "sms", language, address=ADDRESS_40)
    assert rendered.sms is not None and rendered.sms.segments == 1, rendered.body
    assert THANKS[language] in rendered.body


# ---- SMS length ----------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", [*NEW_KINDS, MessageKind.RESTORED])
def test_sms_with_a_40_character_address_is_at_most_two_gsm7_parts(
    renderer: MessageRenderer, kind: MessageKind, language: str
) -> None:
    tomorrow = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    make = INCIDENT_FOR.get(kind, outage)
    bands = BANDS if kind in (MessageKind.COMPENSATION, MessageKind.RESTORED) else (None,)
    for cause, status, etr, note, band in itertools.product(
        [None, *CAUSES], list(STATUS_TEXT), [None, ETR, tomorrow], [None, LONG_NOTE], bands
    ):
        incident = make(cause=cause, status=status, etr=etr, message=note)
        figures = {"compensation_percent": band}
        if kind is MessageKind.COMPENSATION:
            figures["outage_hours"] = HOURS_FOR_BAND[band] if band else None
        rendered = render(renderer, kind, "sms", language, incident, address=ADDRESS_40, **figures)
        assert rendered.sms is not None
        assert rendered.sms.encoding == "GSM-7", rendered.body
        assert sms.segments(rendered.body) == rendered.sms.segments <= 2, rendered.body
        assert ADDRESS_40 in rendered.body
