"""SMS length: GSM-7 or UCS-2, segment counts, smart encoding, the cheapest wording."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outage_notify.planning.sms import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SmsText,
    cheapest,
    fit,
    is_gsm7,
    segments,
    to_gsm7,
)

FAST = settings(max_examples=300, deadline=None, database=None)

EMOJI = "\U0001f600"  # outside the BMP: a surrogate pair in UTF-16
CYRILLIC = "Ж"  # one UTF-16 unit, not GSM-7


# ---- encoding detection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Sähkökatko osoitteessa Mäkitie 3 klo 21.38 alkaen.",
        "Strömavbrott på Åkervägen 5. ÄÖÅ äöå",
        "Power cut at 12 Main St. Estimated repair: 23:30.",
        "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà",
        "line\nbreak\rreturn",
        "€ [ ] { } ~ ^ | \\",
    ],
)
def test_gsm7_texts(text: str) -> None:
    assert is_gsm7(text)


@pytest.mark.parametrize(
    "text",
    [
        "Quote \u201chere\u201d",
        "non\u00a0breaking",
        "dash \u2013 here",
        "Łódź",
        "Привет",
        "snow " + EMOJI,
        "tab\there",
        "ç",  # GSM 03.38 has only the capital Ç
        "`backtick`",
    ],
)
def test_ucs2_texts(text: str) -> None:
    assert not is_gsm7(text)


def test_finnish_and_swedish_letters_are_basic_gsm7() -> None:
    assert set("äöåÄÖÅ") <= GSM7_BASIC
    assert segments("ä" * 160) == 1  # one septet each, not two


def test_euro_and_brackets_are_extension_characters() -> None:
    assert {"€", "[", "]", "{", "}", "\\", "^", "~", "|"} <= GSM7_EXTENSION
    assert not GSM7_BASIC & GSM7_EXTENSION


# ---- segment counts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "expected"),
    [(1, 1), (153, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_gsm7_segment_boundaries(length: int, expected: int) -> None:
    assert segments("a" * length) == expected


@pytest.mark.parametrize(
    ("length", "expected"),
    [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_ucs2_segment_boundaries(length: int, expected: int) -> None:
    assert segments(CYRILLIC * length) == expected


def test_one_non_gsm_character_turns_the_whole_text_ucs2() -> None:
    assert segments("a" * 70) == 1
    assert segments("a" * 69 + "\u2019") == 1
    assert segments("a" * 70 + "\u2019") == 2  # 71 UCS-2 units


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("€" * 80, 1),  # 160 septets
        ("€" * 81, 2),  # 162 septets
        ("a" * 159 + "€", 2),  # 161 septets
        ("a" * 158 + "€", 1),  # 160 septets
        ("[" * 76 + "a", 1),  # 153 septets, still a single message
    ],
)
def test_extension_characters_cost_two_septets(text: str, expected: int) -> None:
    assert is_gsm7(text)
    assert segments(text) == expected


def test_extension_character_is_never_split_across_parts() -> None:
    # 152 + 2 + 152 = 306 septets would fit two parts of 153 if the escape could be split;
    # it cannot, so the euro opens the second part and one 'a' spills into a third.
    assert segments("a" * 152 + "€" + "a" * 152) == 3
    # moved one place earlier, the euro ends the first part exactly: two parts
    assert segments("a" * 151 + "€" + "a" * 153) == 2


def test_emoji_is_a_surrogate_pair_of_two_units() -> None:
    assert segments(EMOJI * 35) == 1  # 70 units
    assert segments(EMOJI * 36) == 2  # 72 units
    assert segments(CYRILLIC * 69 + EMOJI) == 2  # 71 units


def test_surrogate_pair_is_never_split_across_parts() -> None:
    # 66 + 2 + 66 = 134 units would fit two parts of 67 if the pair could be split.
    assert segments(CYRILLIC * 66 + EMOJI + CYRILLIC * 66) == 3
    assert segments(CYRILLIC * 65 + EMOJI + CYRILLIC * 67) == 2


def test_empty_text_is_one_segment() -> None:
    assert segments("") == 1


# ---- smart encoding ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\u201cHei\u201d", '"Hei"'),
        ("\u201eJa\u201c", '"Ja"'),
        ("\u00abnej\u00bb", '"nej"'),
        ("it\u2019s \u2018ok\u2019", "it's 'ok'"),
        ("21.30\u201323.30", "21.30-23.30"),
        ("a \u2014 b \u2212 c \u2010 d \u2011 e", "a - b - c - d - e"),
        ("klo\u00a021.30", "klo 21.30"),
        ("21\u202f:\u200930", "21 : 30"),
        ("zero\u200bwidth", "zerowidth"),
        ("wait\u2026", "wait..."),
        ("\u2022 item", "- item"),
        ("tab\there", "tab here"),
        ("Š\u00edauliai caf\u00e9", "Siauliai café"),  # é is GSM-7 already; í is not
        ("fa\u00e7ade", "faÇade"),
        ("\ufb01re", "fire"),  # ligature
    ],
)
def test_to_gsm7_replaces_look_alikes(text: str, expected: str) -> None:
    assert to_gsm7(text) == expected
    assert is_gsm7(to_gsm7(text))


def test_to_gsm7_keeps_what_it_cannot_render() -> None:
    assert to_gsm7("Łódź " + EMOJI) == "Łodz " + EMOJI
    assert to_gsm7("Привет") == "Привет"


def test_to_gsm7_leaves_gsm7_text_alone() -> None:
    text = "Sähkökatko: Åkervägen 5 [€10] {ok}"
    assert to_gsm7(text) == text


def test_fit_uses_smart_encoding_when_it_saves_segments() -> None:
    text = "Power cut at \u201cMain St\u201d \u2013 " + "a" * 100  # UCS-2: 2 parts
    assert segments(text) == 2
    fitted = fit(text)
    assert fitted == SmsText('Power cut at "Main St" - ' + "a" * 100, "GSM-7", 1)


def test_fit_keeps_the_original_when_smart_encoding_saves_nothing() -> None:
    text = "Power\u2019s back \u2013 thanks"  # UCS-2, but one segment either way
    fitted = fit(text)
    assert fitted.text == text
    assert fitted.encoding == "UCS-2"
    assert fitted.segments == 1


def test_fit_of_gsm7_text_is_unchanged() -> None:
    text = "Sähköt ovat palanneet osoitteeseen Mäkitie 3."
    assert fit(text) == SmsText(text, "GSM-7", 1)


def test_fit_keeps_ucs2_when_nothing_can_be_replaced() -> None:
    text = "Привет " * 15
    assert fit(text) == SmsText(text, "UCS-2", segments(text))


def test_fit_may_stay_ucs2_but_still_shorter() -> None:
    # Zero-width spaces removed, an emoji kept: still UCS-2, one part instead of two.
    text = EMOJI + "a" * 60 + "\u200b" * 20
    fitted = fit(text)
    assert fitted.encoding == "UCS-2"
    assert fitted.segments == 1 < segments(text)
    assert "\u200b" not in fitted.text


# ---- cheapest wording ----------------------------------------------------------------------


def test_cheapest_prefers_fewer_segments() -> None:
    full, compact = "a" * 200, "b" * 100
    assert cheapest(full, compact).text == compact


def test_cheapest_prefers_the_earlier_wording_on_ties() -> None:
    full, compact = "a" * 150, "b" * 10
    assert cheapest(full, compact).text == full
    assert cheapest(compact, full).text == compact


def test_cheapest_compares_after_fitting() -> None:
    # The full wording costs 2 parts as written, 1 once fitted: it wins the tie.
    full = "\u201cFull\u201d " + "a" * 100
    compact = "short"
    chosen = cheapest(full, compact)
    assert chosen.text == '"Full" ' + "a" * 100
    assert chosen.segments == 1


def test_cheapest_of_one() -> None:
    assert cheapest("hello") == SmsText("hello", "GSM-7", 1)


# ---- properties --------------------------------------------------------------------------------


sms_alphabet = st.sampled_from(
    sorted(GSM7_BASIC)
    + sorted(GSM7_EXTENSION)
    + ["\u2019", "\u201c", "\u2013", "\u00a0", "\u200b", "Ж", "Ł", "í", EMOJI, "\u2026"]
)
sms_text = st.text(alphabet=sms_alphabet, max_size=400)


@FAST
@given(text=sms_text, more=st.text(alphabet=sms_alphabet, min_size=1, max_size=40))
def test_segments_never_decrease_as_text_grows(text: str, more: str) -> None:
    assert segments(text + more) >= segments(text)


@FAST
@given(text=st.text(alphabet=sms_alphabet, max_size=500))
def test_segments_never_decrease_one_character_at_a_time(text: str) -> None:
    counts = [segments(text[:i]) for i in range(len(text) + 1)]
    assert counts == sorted(counts)


@FAST
@given(text=sms_text)
def test_fit_never_costs_more(text: str) -> None:
    fitted = fit(text)
    assert fitted.segments <= segments(text)
    assert fitted.segments == segments(fitted.text)
    assert fitted.encoding == ("GSM-7" if is_gsm7(fitted.text) else "UCS-2")
    if fitted.text != text:
        assert fitted.segments < segments(text)  # changed only when it saves something


@FAST
@given(text=sms_text)
def test_segment_count_bounds(text: str) -> None:
    if is_gsm7(text):
        septets = len(text) + sum(ch in GSM7_EXTENSION for ch in text)
        lower = 1 if septets <= 160 else -(-septets // 153)
    else:
        units = len(text.encode("utf-16-le")) // 2
        lower = 1 if units <= 70 else -(-units // 67)
    # packing whole characters can only add parts, and at most one per part boundary
    assert lower <= segments(text) <= max(1, 2 * lower)


@FAST
@given(candidates=st.lists(sms_text, min_size=1, max_size=4))
def test_cheapest_is_the_first_of_the_fewest(candidates: list[str]) -> None:
    chosen = cheapest(*candidates)
    fitted = [fit(c) for c in candidates]
    best = min(f.segments for f in fitted)
    assert chosen.segments == best
    assert chosen == next(f for f in fitted if f.segments == best)
