"""The console's refusals in words (pure): a coded refusal is its own sentence in the reader's
language with the field named as the form labels it; one with no sentence keeps the API's
words behind a translated lead; every sentence belongs to a code the code base raises."""

from __future__ import annotations

import re
from pathlib import Path

from outage_notify.errors import CodedError
from outage_notify.ingest.records import RecordError
from outage_notify.public.words import Voice
from outage_notify.web import i18n
from outage_notify.web.console_words import REFUSALS, refusal_words

PACKAGE = Path(__file__).resolve().parents[2] / "outage_notify"


def voice(lang: str) -> Voice:
    return Voice(i18n.translations(lang), i18n.format_locale(lang))


def test_a_coded_refusal_names_the_field_as_the_form_labels_it() -> None:
    refusal = RecordError(
        "cause is longer than 300 characters", code="text_too_long", field="cause", limit=300
    )
    assert refusal_words(refusal) == "Cause: at most 300 characters."
    assert refusal_words(refusal, voice=voice("fi")) == "Syy: enintään 300 merkkiä."
    assert refusal_words(refusal, voice=voice("sv")) == "Orsak: högst 300 tecken."


def test_a_refusal_without_a_sentence_keeps_the_api_s_words_behind_a_translated_lead() -> None:
    refusal = CodedError('area crs member must be of type "name"')
    said = refusal_words(refusal, voice=voice("fi"))
    assert said == 'Häiriötä ei hyväksytty: area crs member must be of type "name"'


def test_an_unknown_field_is_named_as_the_api_names_it() -> None:
    refusal = RecordError("started_at must be…", code="time_format", field="started_at")
    assert refusal_words(refusal) == "started_at: give a date and a time of day."


def test_every_sentence_belongs_to_a_code_that_is_raised() -> None:
    raised = {
        code
        for path in PACKAGE.rglob("*.py")
        for code in re.findall(r'code="(\w+)"', path.read_text(encoding="utf-8"))
    }
    assert set(REFUSALS) <= raised, set(REFUSALS) - raised
