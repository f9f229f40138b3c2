"""The public map's words: local times with the day said plainly, estimates, windows, counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from outage_notify.public.words import (
    Voice,
    ago,
    clock,
    count_words,
    etr_words,
    span,
    status_words,
    window_words,
)
from outage_notify.web.i18n import format_locale, translations

ZONE = ZoneInfo("Europe/Helsinki")
NOW = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # 18:00 in Helsinki


def at(hours: float) -> datetime:
    return NOW + timedelta(hours=hours)


@pytest.mark.parametrize(
    ("hours", "said"),
    [
        (0, "18:00 today"),
        (5.99, "23:59 today"),
        (6, "00:00 tomorrow"),
        (-18.5, "23:30 yesterday"),
        (30, "00:00 on Thu 26 Nov"),
        (-48, "18:00 on Sun 22 Nov"),
    ],
)
def test_a_time_is_local_with_its_day(hours: float, said: str) -> None:
    assert clock(at(hours), now=NOW, zone=ZONE) == said


@pytest.mark.parametrize(
    ("minutes", "said"),
    [
        (0, "less than a minute"),
        (1, "1 minute"),
        (25, "25 minutes"),
        (59, "59 minutes"),
        (60, "about 1 hour"),
        (150, "about 2 hours"),  # 2.5 hours rounds to the even 2
        (155, "about 3 hours"),
        (47 * 60, "about 47 hours"),
        (50 * 60, "about 2 days"),
    ],
)
def test_durations_are_rounded_as_people_round_them(minutes: int, said: str) -> None:
    assert span(timedelta(minutes=minutes)) == said


def test_how_long_ago() -> None:
    assert ago(NOW - timedelta(seconds=20), now=NOW) == "just now"
    assert ago(NOW - timedelta(minutes=12), now=NOW) == "12 minutes ago"


def test_the_estimate_in_plain_words() -> None:
    assert etr_words(at(2.5), now=NOW, zone=ZONE) == (
        "Expected back by 20:30 today (in about 2 hours)."
    )
    assert etr_words(None, now=NOW, zone=ZONE) == (
        "No estimate yet: the damage is still being assessed."
    )
    assert etr_words(at(-0.5), now=NOW, zone=ZONE) == (
        "The estimate of 17:30 today has passed. A new estimate will follow."
    )


def test_windows() -> None:
    assert window_words(at(10), at(12), now=NOW, zone=ZONE) == (
        "From 04:00 tomorrow to 06:00 tomorrow."
    )
    assert window_words(at(1), None, now=NOW, zone=ZONE) == (
        "From 19:00 today, until further notice."
    )
    assert window_words(None, at(1), now=NOW, zone=ZONE) == "Until 19:00 today."
    assert window_words(None, None, now=NOW, zone=ZONE) == "Until further notice."


def test_counts_never_say_one_or_two() -> None:
    assert [count_words(n) for n in (0, 1, 2, 3, 1477)] == [
        "fewer than 3 customers",
        "fewer than 3 customers",
        "fewer than 3 customers",
        "3 customers",
        "1,477 customers",
    ]


def test_states_in_words_per_kind() -> None:
    assert status_words("unplanned", "crew_assigned") == "A crew is on its way"
    assert status_words("planned", "detected") == "Scheduled"
    assert status_words("warning", "detected") == "In force"


def voice(lang: str) -> Voice:
    return Voice(translations(lang), format_locale(lang))


def test_the_words_in_finnish_and_swedish() -> None:
    fi, sv = voice("fi"), voice("sv")
    assert clock(at(0), now=NOW, zone=ZONE, voice=fi) == "tänään klo 18.00"
    assert clock(at(30), now=NOW, zone=ZONE, voice=fi) == "to 26.11. klo 0.00"
    assert clock(at(30), now=NOW, zone=ZONE, voice=sv) == "tors 26 nov. kl. 00.00"
    assert etr_words(at(2.5), now=NOW, zone=ZONE, voice=fi) == (
        "Sähköjen arvioidaan palaavan tänään klo 20.30 mennessä (vielä noin 2 tuntia)."
    )
    assert etr_words(at(2.5), now=NOW, zone=ZONE, voice=sv) == (
        "Strömmen väntas vara tillbaka senast i dag kl. 20.30 (om cirka 2 timmar)."
    )
    assert window_words(None, None, now=NOW, zone=ZONE, voice=sv) == "Tills vidare."
    assert count_words(1477, voice=fi) == "1\xa0477 asiakasta"
    assert count_words(1, voice=sv) == "färre än 3 kunder"
    assert span(timedelta(minutes=1), voice=fi) == "1 minuutti"
    assert ago(NOW - timedelta(minutes=12), now=NOW, voice=sv) == "för 12 minuter sedan"
    assert status_words("unplanned", "crew_assigned", voice=fi) == "Asentaja on matkalla"
