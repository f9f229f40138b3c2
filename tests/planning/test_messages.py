"""MessageRenderer with the real templates: every message renders, in local time, in the
customer's language, escaped only where HTML needs it, and an outage SMS costs one segment."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outage_notify.incidents.model import IncidentValue, MessageKind
from outage_notify.planning.messages import ADDRESS_MARK, MessageRenderer, Rendered
from outage_notify.planning.rules import DECIDED
from outage_notify.planning.vocabulary import CAUSES, STATUS_TEXT

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
LANGUAGES = ("fi", "sv", "en")
CHANNELS = ("sms", "email", "push", "in_app")

# Wednesday 25 November 2026, 21:45 in Helsinki (UTC+2).
NOW = datetime(2026, 11, 25, 19, 45, tzinfo=UTC)
STARTED = datetime(2026, 11, 25, 19, 38, tzinfo=UTC)  # 21.38 local
ETR = datetime(2026, 11, 25, 21, 30, tzinfo=UTC)  # 23.30 local
STARTS = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)  # Friday 9.00 local
ENDS = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)  # Friday 13.00 local
ADDRESS = "Mannerheimintie 12 B 34"


@pytest.fixture(scope="module")
def renderer() -> MessageRenderer:
    return MessageRenderer(TEMPLATES, ZoneInfo("Europe/Helsinki"))


def outage(**changes: Any) -> IncidentValue:
    base = IncidentValue(
        external_id="OMS-1",
        kind="unplanned",
        status="crew_assigned",
        cause="fallen tree",
        message=None,
        started_at=STARTED,
        etr=ETR,
        starts_at=None,
        ends_at=None,
    )
    return replace(base, **changes)


def planned(**changes: Any) -> IncidentValue:
    base = IncidentValue(
        external_id="PW-1",
        kind="planned",
        status="detected",
        cause="maintenance",
        message=None,
        started_at=NOW,
        etr=None,
        starts_at=STARTS,
        ends_at=ENDS,
    )
    return replace(base, **changes)


WARNING_ONSET = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)  # 22.00 local
WARNING_EXPIRES = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # Thursday 12.00 local


def warning(**changes: Any) -> IncidentValue:
    """A weather warning as the CAP poll makes it: the headlines by language as its message."""
    base = IncidentValue(
        external_id="wrn_1",
        kind="warning",
        status="detected",
        cause="Tuulivaroitus",
        message=(("en", "Orange wind warning: Eastern Uusimaa."), ("fi", "Oranssi tuulivaroitus")),
        started_at=NOW,
        starts_at=WARNING_ONSET,
        ends_at=WARNING_EXPIRES,
        severity="Severe",
    )
    return replace(base, **changes)


def render(
    renderer: MessageRenderer,
    kind: MessageKind,
    channel: str,
    language: str,
    incident: IncidentValue | None = None,
    *,
    now: datetime = NOW,
    address: str | None = ADDRESS,
    later: bool | None = None,
    **figures: int | None,
) -> Rendered:
    return renderer.render(
        kind=kind,
        channel=channel,
        language=language,
        incident=incident or outage(),
        now=now,
        address=address,
        later=later,
        **figures,
    )


def everything(rendered: Rendered) -> str:
    return "\n".join(filter(None, (rendered.subject, rendered.body, rendered.html)))


# ---- every combination ---------------------------------------------------------------------------

INCIDENTS_FOR = {
    MessageKind.OUTAGE: [outage],
    MessageKind.ETR_UPDATE: [outage],
    MessageKind.RESTORED: [outage],
    MessageKind.PLANNED_NOTICE: [planned],
    MessageKind.PLANNED_CHANGED: [planned],
    MessageKind.CANCELLED: [outage],
    MessageKind.PLANNED_CANCELLED: [planned],
    MessageKind.PLANNED_DONE: [planned],
    MessageKind.ETR_MISSED: [outage],
    MessageKind.REASSURANCE: [outage],
    MessageKind.PLANNED_REMINDER: [planned],
    MessageKind.COMPENSATION: [outage],
    MessageKind.ADVISORY: [warning],
}
# A compensation notice is always sent with its figures (the renderer refuses one without).
FIGURES_FOR = {MessageKind.COMPENSATION: {"compensation_percent": 25, "outage_hours": 24}}
MESSAGES: list[Any] = [None, "Stay clear of fallen lines.", (("en", "EN note"), ("fi", "FI note"))]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("kind", sorted(DECIDED))
def test_every_combination_renders(
    renderer: MessageRenderer, kind: MessageKind, channel: str, language: str
) -> None:
    variations = itertools.product(
        INCIDENTS_FOR[kind], [None, ADDRESS], [None, "fallen tree"], [None, ETR], MESSAGES
    )
    assert set(INCIDENTS_FOR) >= DECIDED  # every kind the table can decide is rendered here
    for make, address, cause, etr, message in variations:
        incident = make(cause=cause, etr=etr, message=message)
        for later in [None, True, False] if kind is MessageKind.ETR_UPDATE else [None]:
            rendered = render(
                renderer,
                kind,
                channel,
                language,
                incident,
                address=address,
                later=later,
                **FIGURES_FOR.get(kind, {}),
            )
            text = everything(rendered)
            assert rendered.body.strip(), (kind, channel, language)
            assert ADDRESS_MARK not in text and "\x00" not in text
            assert "{{" not in text and "{%" not in text
            if address:
                assert address in f"{rendered.subject} {rendered.body}"
            else:
                assert ADDRESS not in text
            # ETR_UPDATE is only sent with one
            if not (kind is MessageKind.ETR_UPDATE and etr is None):
                assert "None" not in text
            check_channel_shape(rendered, channel, language)


def check_channel_shape(rendered: Rendered, channel: str, language: str) -> None:
    if channel == "sms":
        assert rendered.sms is not None
        assert rendered.sms.text == rendered.body
        assert rendered.subject is None and rendered.html is None
        assert "\n" not in rendered.body and "  " not in rendered.body
        assert rendered.body == rendered.body.strip()
    elif channel == "email":
        assert rendered.subject and "\n" not in rendered.subject
        assert rendered.html is not None
        assert f'<html lang="{language}">' in rendered.html
        assert "<p " in rendered.html
        assert rendered.sms is None
    elif channel == "push":
        assert rendered.subject  # the title
        assert rendered.html is None and rendered.sms is None
    else:
        assert rendered.subject and rendered.html is None and rendered.sms is None


def test_in_app_is_the_push_title_with_the_email_body(renderer: MessageRenderer) -> None:
    for language in LANGUAGES:
        in_app = render(renderer, MessageKind.OUTAGE, "in_app", language)
        push = render(renderer, MessageKind.OUTAGE, "push", language)
        email = render(renderer, MessageKind.OUTAGE, "email", language)
        assert in_app.subject == push.subject
        assert in_app.body == email.body


def test_unknown_channel_is_refused(renderer: MessageRenderer) -> None:
    with pytest.raises(ValueError, match="fax"):
        render(renderer, MessageKind.OUTAGE, "fax", "en")


def test_email_body_is_paragraphs_split_by_blank_lines(renderer: MessageRenderer) -> None:
    email = render(renderer, MessageKind.OUTAGE, "email", "en", outage(message="Keep away."))
    paragraphs = email.body.split("\n\n")
    assert paragraphs[0] == "Hello,"
    assert "Keep away." in paragraphs
    assert all(p == p.strip() and "\n" not in p for p in paragraphs)
    assert email.html is not None and email.html.count("<p ") == len(paragraphs)


# ---- SMS length ------------------------------------------------------------------------------------

TYPICAL_ADDRESSES = [ADDRESS, "Kotikatu 1", "Åkervägen 5 A 3"]
LONG_NOTE = "Pysy kaukana kaatuneista johdoista ja soita hätänumeroon 112, jos näet vaaran."


@pytest.mark.parametrize("address", TYPICAL_ADDRESSES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_outage_sms_for_a_typical_address_is_one_gsm7_segment(
    renderer: MessageRenderer, language: str, address: str
) -> None:
    tomorrow = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    for cause, status, etr in itertools.product(
        [None, *CAUSES], list(STATUS_TEXT), [None, ETR, tomorrow]
    ):
        incident = outage(cause=cause, status=status, etr=etr, message=LONG_NOTE)
        sms = render(renderer, MessageKind.OUTAGE, "sms", language, incident, address=address).sms
        assert sms is not None
        assert (sms.segments, sms.encoding) == (1, "GSM-7"), sms.text
        assert address in sms.text


def test_long_operator_note_falls_back_to_the_compact_wording(
    renderer: MessageRenderer,
) -> None:
    long_note = "Älä koske maassa oleviin johtoihin. " * 3
    rendered = render(renderer, MessageKind.OUTAGE, "sms", "fi", outage(message=long_note))
    assert rendered.sms is not None and rendered.sms.segments == 1
    assert "johtoihin" not in rendered.body
    assert "klo 23.30" in rendered.body  # the facts stay


def test_short_operator_note_is_kept_in_the_full_wording(renderer: MessageRenderer) -> None:
    rendered = render(renderer, MessageKind.OUTAGE, "sms", "en", outage(message="Stay clear."))
    assert rendered.body.endswith("Stay clear.")


def test_address_that_needs_ucs2_is_smart_encoded_when_that_saves_a_part(
    renderer: MessageRenderer,
) -> None:
    address = "\u201cVanha Myllytie\u201d 12\u201314 B 34"
    rendered = render(renderer, MessageKind.OUTAGE, "sms", "fi", outage(), address=address)
    assert rendered.sms is not None
    assert rendered.sms.encoding == "GSM-7" and rendered.sms.segments == 1
    assert '"Vanha Myllytie" 12-14 B 34' in rendered.body


# ---- per-customer text -------------------------------------------------------------------------


def test_each_customer_gets_their_own_address(renderer: MessageRenderer) -> None:
    for channel in CHANNELS:
        first = render(renderer, MessageKind.OUTAGE, channel, "en", address="Kotikatu 1")
        second = render(renderer, MessageKind.OUTAGE, channel, "en", address="Mäkitie 7")
        assert "Kotikatu 1" in everything(first) and "Mäkitie 7" not in everything(first)
        assert "Mäkitie 7" in everything(second) and "Kotikatu 1" not in everything(second)


def test_without_an_address_the_text_does_not_dangle(renderer: MessageRenderer) -> None:
    rendered = render(renderer, MessageKind.OUTAGE, "sms", "en", address=None)
    assert rendered.body.startswith("Power cut since 21:38")
    assert " at " not in rendered.body.split("since")[0]
    email = render(renderer, MessageKind.OUTAGE, "email", "fi", address="")
    assert email.subject == "Sähkökatko"


# ---- escaping ------------------------------------------------------------------------------------

NASTY_ADDRESS = '<b>Mäki</b> & "Co"'


def test_html_escapes_the_address_while_the_text_keeps_it(renderer: MessageRenderer) -> None:
    for language in LANGUAGES:
        email = render(renderer, MessageKind.OUTAGE, "email", language, address=NASTY_ADDRESS)
        assert email.html is not None
        assert "<b>" not in email.html and "</b>" not in email.html
        assert "&lt;b&gt;Mäki&lt;/b&gt; &amp;" in email.html
        assert NASTY_ADDRESS in email.body
        assert email.subject is not None and NASTY_ADDRESS in email.subject


@pytest.mark.parametrize("channel", ["sms", "push", "in_app"])
def test_plain_channels_are_never_escaped(renderer: MessageRenderer, channel: str) -> None:
    rendered = render(
        renderer,
        MessageKind.OUTAGE,
        channel,
        "en",
        outage(message="A & B <now>"),
        address=NASTY_ADDRESS,
    )
    text = everything(rendered)
    assert NASTY_ADDRESS in text
    assert "&amp;" not in text and "&lt;" not in text


def test_html_escapes_operator_text_and_cause(renderer: MessageRenderer) -> None:
    incident = outage(message="<script>alert(1)</script>", cause="<i>squirrel</i>")
    email = render(renderer, MessageKind.OUTAGE, "email", "en", incident)
    assert email.html is not None
    assert "<script>" not in email.html and "<i>" not in email.html
    assert "&lt;script&gt;" in email.html and "&lt;i&gt;squirrel&lt;/i&gt;" in email.html
    assert "<script>alert(1)</script>" in email.body


# ---- local time ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "etr_text", "since_text"),
    [("fi", "klo 23.30", "klo 21.38"), ("sv", "kl. 23.30", "kl. 21.38"), ("en", "23:30", "21:38")],
)
def test_times_today_are_local_time_alone(
    renderer: MessageRenderer, language: str, etr_text: str, since_text: str
) -> None:
    for channel in CHANNELS:
        text = everything(render(renderer, MessageKind.OUTAGE, channel, language))
        assert etr_text in text, channel
        assert since_text in text, channel
        assert "21:30" not in text and "21.30" not in text  # never the UTC time
        assert "25.11." not in text and "Nov" not in text  # no date for today


@pytest.mark.parametrize(
    ("language", "expected"),
    [("fi", "ke 25.11. klo 23.30"), ("sv", "ons 25.11. kl. 23.30"), ("en", "Wed 25 Nov 23:30")],
)
def test_times_not_today_carry_weekday_and_date(
    renderer: MessageRenderer, language: str, expected: str
) -> None:
    day_before = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    rendered = render(renderer, MessageKind.OUTAGE, "sms", language, now=day_before)
    assert expected in rendered.body


@pytest.mark.parametrize(
    ("language", "expected"),
    [("fi", "to 26.11. klo 0.30"), ("sv", "tors 26.11. kl. 0.30"), ("en", "Thu 26 Nov 00:30")],
)
def test_today_is_the_local_day_not_the_utc_day(
    renderer: MessageRenderer, language: str, expected: str
) -> None:
    # 21:45 UTC and 22:30 UTC share a UTC date, but 22:30 UTC is already tomorrow in Helsinki.
    now = datetime(2026, 11, 25, 21, 45, tzinfo=UTC)
    etr = datetime(2026, 11, 25, 22, 30, tzinfo=UTC)
    rendered = render(renderer, MessageKind.ETR_UPDATE, "sms", language, outage(etr=etr), now=now)
    assert expected in rendered.body


def test_local_time_follows_summer_time(renderer: MessageRenderer) -> None:
    now = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
    incident = outage(started_at=datetime(2026, 7, 15, 11, 0, tzinfo=UTC), etr=now.replace(hour=18))
    body = render(renderer, MessageKind.OUTAGE, "sms", "fi", incident, now=now).body
    assert "klo 14.00 alkaen" in body  # UTC+3 in July
    assert "klo 21.00" in body


def test_etr_given_with_another_offset_is_shown_in_helsinki_time(
    renderer: MessageRenderer,
) -> None:
    new_york = ZoneInfo("America/New_York")
    incident = outage(etr=ETR.astimezone(new_york))
    assert (
        "Estimated repair: 23:30."
        in render(renderer, MessageKind.OUTAGE, "sms", "en", incident).body
    )


def test_planned_window_ending_the_same_day_shows_the_end_as_a_time(
    renderer: MessageRenderer,
) -> None:
    body = render(renderer, MessageKind.PLANNED_NOTICE, "sms", "fi", planned()).body
    assert "pe 27.11. klo 9.00 - klo 13.00" in body
    body = render(renderer, MessageKind.PLANNED_NOTICE, "sms", "en", planned()).body
    assert "Fri 27 Nov 09:00 - 13:00" in body


def test_planned_window_over_midnight_dates_its_end(renderer: MessageRenderer) -> None:
    incident = planned(ends_at=datetime(2026, 11, 28, 4, 0, tzinfo=UTC))
    body = render(renderer, MessageKind.PLANNED_NOTICE, "sms", "sv", incident).body
    assert "fre 27.11. kl. 9.00 - lör 28.11. kl. 6.00" in body


def test_restored_names_the_time_of_restoration(renderer: MessageRenderer) -> None:
    assert "(21:45)" in render(renderer, MessageKind.RESTORED, "email", "en").body
    assert "(klo 21.45)" in render(renderer, MessageKind.RESTORED, "push", "fi").body


@pytest.mark.parametrize(
    ("later", "english"),
    [(None, "estimated repair 23:30"), (True, "taking longer"), (False, "going faster")],
)
def test_etr_update_says_which_way_the_estimate_moved(
    renderer: MessageRenderer, later: bool | None, english: str
) -> None:
    assert english in render(renderer, MessageKind.ETR_UPDATE, "sms", "en", later=later).body


# ---- words ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "word"), [("fi", "kaatunut puu"), ("sv", "fallet träd"), ("en", "fallen tree")]
)
@pytest.mark.parametrize("cause", ["fallen tree", "Fallen Tree ", "kaatunut puu", "fallet träd"])
def test_known_cause_is_translated(
    renderer: MessageRenderer, language: str, word: str, cause: str
) -> None:
    for channel in CHANNELS:
        text = everything(
            render(renderer, MessageKind.OUTAGE, channel, language, outage(cause=cause))
        )
        assert word in text, channel


def test_planned_cause_is_translated(renderer: MessageRenderer) -> None:
    body = render(
        renderer, MessageKind.PLANNED_NOTICE, "sms", "sv", planned(cause="maintenance")
    ).body
    assert "(underhållsarbete)" in body


def test_unknown_cause_is_passed_through(renderer: MessageRenderer) -> None:
    for language in LANGUAGES:
        incident = outage(cause="  squirrel in substation ")
        sms = render(renderer, MessageKind.OUTAGE, "sms", language, incident).body
        assert "squirrel in substation" in sms
        assert "  squirrel" not in sms


@pytest.mark.parametrize("channel", ["sms", "email", "push"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_cause_written_as_a_sentence_does_not_end_it_twice(
    renderer: MessageRenderer, channel: str, language: str
) -> None:
    """An OMS writes its cause as a sentence (PG&E: "… as soon as it is safe to do so.");
    the template ends the sentence itself, so its full stop is dropped, never doubled."""
    cause = "Power will be restored as soon as it is safe to do so."
    rendered = render(renderer, MessageKind.OUTAGE, channel, language, outage(cause=cause))
    assert "safe to do so" in rendered.body
    assert not re.search(r"[.!?]\s*[.,]", rendered.body), rendered.body


def test_missing_cause_is_not_mentioned(renderer: MessageRenderer) -> None:
    for cause in (None, "", "   "):
        body = render(renderer, MessageKind.OUTAGE, "sms", "en", outage(cause=cause)).body
        assert "cause" not in body.lower()


@pytest.mark.parametrize("language", LANGUAGES)
def test_status_is_told_in_the_language(renderer: MessageRenderer, language: str) -> None:
    for status, words in STATUS_TEXT.items():
        body = render(renderer, MessageKind.OUTAGE, "sms", language, outage(status=status)).body
        assert words[language] in body


PER_LANGUAGE = (("en", "In English"), ("fi", "Suomeksi"), ("sv", "På svenska"))


@pytest.mark.parametrize(
    ("note", "language", "expected"),
    [
        (PER_LANGUAGE, "fi", "Suomeksi"),
        (PER_LANGUAGE, "sv", "På svenska"),
        (PER_LANGUAGE, "en", "In English"),
        ((("en", "In English"), ("sv", "På svenska")), "fi", "In English"),
        ((("fi", "Suomeksi"), ("sv", "På svenska")), "en", "Suomeksi"),
        ((("sv", "På svenska"),), "fi", "På svenska"),
        ((("fi", ""), ("sv", "På svenska")), "fi", "På svenska"),
        ("One for all", "sv", "One for all"),
    ],
)
def test_operator_message_is_chosen_by_language(
    renderer: MessageRenderer, note: Any, language: str, expected: str
) -> None:
    email = render(renderer, MessageKind.OUTAGE, "email", language, outage(message=note))
    assert expected in email.body
    others = {text for _, text in note if text != expected} if isinstance(note, tuple) else set()
    assert not any(other and other in email.body for other in others)


@pytest.mark.parametrize("message", [None, "", ()])
def test_no_operator_message_leaves_no_gap(renderer: MessageRenderer, message: Any) -> None:
    email = render(renderer, MessageKind.OUTAGE, "email", "en", outage(message=message))
    assert "\n\n\n" not in email.body
    assert email.body.split("\n\n")[-2] == "Our crew is on the way. Estimated repair: 23:30."


# ---- property ----------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, database=None)
@given(
    # Any address that import accepts: no control characters or line separators, stripped.
    address=st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")),
        max_size=60,
    ).filter(lambda text: text == text.strip()),
    language=st.sampled_from(LANGUAGES),
)
def test_any_address_lands_verbatim_in_text_and_escaped_in_html(
    renderer: MessageRenderer, address: str, language: str
) -> None:
    email = render(renderer, MessageKind.RESTORED, "email", language, address=address)
    if address:
        assert address in email.body
        assert email.html is not None
        escaped = address.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert escaped.replace('"', "&#34;").replace("'", "&#39;") in email.html


@pytest.mark.parametrize("channel", ["sms", "email", "push", "in_app"])
def test_an_address_with_line_breaks_never_splits_a_message_or_a_subject(
    renderer: MessageRenderer, channel: str
) -> None:
    """Text stored before control characters were refused, or a provider's, still cannot
    add a line to an SMS or a header line to an email."""
    rendered = render(
        renderer,
        MessageKind.OUTAGE,
        channel,
        "en",
        address="Kotikatu 1\r\nBcc: spy@example.com\x00",
    )
    if channel == "sms":
        assert "\n" not in rendered.body and "\r" not in rendered.body
    for text in (rendered.subject or "", rendered.body if channel == "sms" else ""):
        assert "\n" not in text and "\r" not in text and "\x00" not in text
    assert "Kotikatu 1" in everything(rendered)


# ---- advisories ----------------------------------------------------------------------------------


def test_an_advisory_takes_the_warnings_headline_in_the_readers_language(
    renderer: MessageRenderer,
) -> None:
    fi = render(renderer, MessageKind.ADVISORY, "sms", "fi", warning())
    assert fi.body.startswith("Oranssi tuulivaroitus, Mannerheimintie 12 B 34: sähkökatkot")
    # Its window in local time: onset today at 22.00, expiry tomorrow at 12.00.
    assert "klo 22.00 - to 26.11. klo 12.00" in fi.body
    en = render(renderer, MessageKind.ADVISORY, "email", "en", warning())
    # The sender's full stop is not doubled.
    assert "Orange wind warning: Eastern Uusimaa.\n" in en.body + "\n"
    assert ".." not in en.body


def test_without_a_headline_in_their_language_the_reader_gets_our_wording_not_another_language(
    renderer: MessageRenderer,
) -> None:
    sv = render(renderer, MessageKind.ADVISORY, "sms", "sv", warning())
    assert sv.body.startswith("Vädervarning (orange nivå), Mannerheimintie 12 B 34:")
    assert "Oranssi" not in sv.body and "Orange wind" not in sv.body
    push = render(renderer, MessageKind.ADVISORY, "push", "en", warning(message=None))
    assert push.subject == "Weather warning (orange level): Mannerheimintie 12 B 34"
    red = render(
        renderer, MessageKind.ADVISORY, "sms", "fi", warning(severity="Extreme", message=None)
    )
    assert red.body.startswith("Säävaroitus (punainen taso)")


def test_an_advisory_without_onset_says_until_when(renderer: MessageRenderer) -> None:
    body = render(renderer, MessageKind.ADVISORY, "sms", "en", warning(starts_at=None)).body
    assert "power cuts are possible until Thu 26 Nov 12:00." in body
