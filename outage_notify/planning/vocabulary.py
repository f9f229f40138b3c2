"""Words the templates need in three languages: statuses and the common causes of outages.

A cause the operator writes in free text is matched against these (in any of the languages) so
that a Swedish speaker reads "fallet träd" when the operator typed "fallen tree"; a cause not
in the list is passed on as written.
"""

from __future__ import annotations

STATUS_TEXT: dict[str, dict[str, str]] = {
    "detected": {
        "fi": "Vikaa paikannetaan.",
        "sv": "Vi lokaliserar felet.",
        "en": "We are locating the fault.",
    },
    "crew_assigned": {
        "fi": "Asentajamme ovat matkalla.",
        "sv": "Vårt team är på väg.",
        "en": "Our crew is on the way.",
    },
    "in_progress": {
        "fi": "Korjaustyö on käynnissä.",
        "sv": "Reparationen pågår.",
        "en": "Repair work is under way.",
    },
}

CAUSES: dict[str, dict[str, str]] = {
    "storm damage": {"fi": "myrskytuho", "sv": "stormskada", "en": "storm damage"},
    "fallen tree": {"fi": "kaatunut puu", "sv": "fallet träd", "en": "fallen tree"},
    "snow load": {"fi": "lumikuorma", "sv": "snölast", "en": "snow load"},
    "lightning": {"fi": "salama", "sv": "blixtnedslag", "en": "lightning"},
    "equipment failure": {"fi": "laitevika", "sv": "utrustningsfel", "en": "equipment failure"},
    "cable damage": {"fi": "kaapelivaurio", "sv": "kabelskada", "en": "cable damage"},
    "excavation damage": {
        "fi": "kaivuvaurio",
        "sv": "grävskada",
        "en": "excavation damage",
    },
    "animal": {"fi": "eläin", "sv": "djur", "en": "animal"},
    "grid fault": {"fi": "sähköverkon vika", "sv": "fel i elnätet", "en": "grid fault"},
    "maintenance": {"fi": "huoltotyö", "sv": "underhållsarbete", "en": "maintenance work"},
    "network construction": {
        "fi": "verkon rakennustyö",
        "sv": "nätbygge",
        "en": "network construction",
    },
}

# A warning's CAP severity as people in Finland know warnings: by the colour of the level
# (FMI and MeteoAlarm: yellow = Moderate, orange = Severe, red = Extreme).
SEVERITY_TEXT: dict[str, dict[str, str]] = {
    "Minor": {"fi": "vähäinen", "sv": "låg", "en": "minor"},
    "Moderate": {"fi": "keltainen", "sv": "gul", "en": "yellow"},
    "Severe": {"fi": "oranssi", "sv": "orange", "en": "orange"},
    "Extreme": {"fi": "punainen", "sv": "röd", "en": "red"},
}

_CAUSE_LOOKUP = {
    word.casefold(): key for key, names in CAUSES.items() for word in (key, *names.values())
}


def status_text(status: str, language: str) -> str:
    return STATUS_TEXT.get(status, {}).get(language, "")


def severity_text(severity: str | None, language: str) -> str | None:
    return SEVERITY_TEXT.get(severity or "", {}).get(language)


# What may end a cause as its sender wrote it; the templates end the sentence themselves.
_CLOSING_PUNCTUATION = ".!?;:,…"


def cause_text(cause: str | None, language: str) -> str | None:
    """A known cause in the reader's language; any other as written, without the full stop
    it may end with (an OMS writes whole sentences, and the template adds its own)."""
    if not cause or not cause.strip():
        return None
    key = _CAUSE_LOOKUP.get(cause.strip().casefold())
    if key:
        return CAUSES[key][language]
    return cause.strip().rstrip(_CLOSING_PUNCTUATION + " ") or None
