"""Which weather warnings concern an electricity network (issue 11 item 3; CONTRACT.md rule 6).
Pure: (alert, filter) → accepted, or filtered with the reason kept for GET /warnings.

A warning is acted on when it is `Actual`, and some info block (in any language) has an
event the grid cares about (by its `event` text or an `eventCode`, e.g. MeteoAlarm's
`awareness_type`), an urgency in the accepted set, and a severity at least the minimum. The
severity may also come from MeteoAlarm's `awareness_level` parameter ("2; yellow; Moderate"),
which European services (FMI among them) send beside or instead of a useful CAP severity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from outage_notify.incidents.model import SEVERITIES, severity_rank
from outage_notify.ingest.cap import Alert, Info

URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
# MeteoAlarm awareness levels: 1 green (no warning), 2 yellow, 3 orange, 4 red.
AWARENESS_SEVERITY = {"1": "Minor", "2": "Moderate", "3": "Severe", "4": "Extreme"}
# Events that can take lines down or load the network, in English, Finnish and Swedish
# (matched as words at the start of a word: "windstorm", "Tuulivaroitus" and "snöfall" count).
DEFAULT_EVENTS = (
    "wind",
    "storm",
    "gale",
    "hurricane",
    "tornado",
    "thunderstorm",
    "lightning",
    "snow",
    "blizzard",
    "ice",
    "icing",
    "freezing",
    "flood",
    "tuuli",
    "myrsky",
    "ukkonen",
    "ukkos",
    "lumi",
    "lumikuorma",
    "tykkylumi",
    "jää",
    "jäätävä",
    "tulva",
    "vind",
    "åska",
    "snö",
    "snölast",
    "isbildning",
    "underkyld",
    "översvämning",
)
# MeteoAlarm awareness types: 1 wind, 2 snow/ice, 3 thunderstorm, 7 coastal event,
# 10 rain, 12 flooding, 13 rain-flood.
DEFAULT_AWARENESS_TYPES = ("1", "2", "3", "7", "10", "12", "13")


@dataclass(frozen=True)
class CapFilter:
    events: tuple[str, ...] = DEFAULT_EVENTS
    awareness_types: tuple[str, ...] = DEFAULT_AWARENESS_TYPES
    min_severity: str = "Moderate"
    urgencies: tuple[str, ...] = ("Immediate", "Expected")

    def __post_init__(self) -> None:
        if self.min_severity not in SEVERITIES:
            raise ValueError(f"minimum severity must be one of {', '.join(SEVERITIES)}")
        unknown = set(self.urgencies) - set(URGENCIES)
        if unknown:
            raise ValueError(f"unknown urgency {sorted(unknown)[0]!r}")


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str | None = None  # why it was filtered out
    severity: str | None = None  # the highest severity among the infos that passed
    info: Info | None = None  # the first info block that passed


def judge(alert: Alert, rules: CapFilter) -> Verdict:
    """Accepted, with the severity that counts, or filtered with why."""
    if alert.status != "Actual":
        return Verdict(False, f"status is {alert.status}, not Actual")
    if not alert.infos:
        return Verdict(False, "no info block")
    reasons = [reason for info in alert.infos if (reason := _refuse(info, rules))]
    passing = [info for info in alert.infos if _refuse(info, rules) is None]
    if not passing:
        return Verdict(False, "; ".join(dict.fromkeys(reasons)))
    best = max(passing, key=lambda info: severity_rank(severity_of(info)))
    return Verdict(True, severity=severity_of(best), info=passing[0])


def severity_of(info: Info) -> str:
    """CAP severity, or MeteoAlarm's awareness level when that says more."""
    stated = info.severity if info.severity in SEVERITIES else None
    level = _awareness_level(info.parameters)
    if level is None:
        return stated or "Unknown"
    if stated is None:
        return level
    return max(stated, level, key=severity_rank)


def _refuse(info: Info, rules: CapFilter) -> str | None:
    if not _concerns_the_grid(info, rules):
        return f"event {info.event!r} is not one the grid is warned of"
    if info.urgency not in rules.urgencies:
        return f"urgency {info.urgency} is not {' or '.join(rules.urgencies)}"
    severity = severity_of(info)
    if severity_rank(severity) < severity_rank(rules.min_severity):
        return f"severity {severity} is below {rules.min_severity}"
    return None


def _concerns_the_grid(info: Info, rules: CapFilter) -> bool:
    if _mentions(info.event, rules.events):
        return True
    for name, value in info.event_codes:
        if (
            name.lower() == "awareness_type"
            and value.split(";")[0].strip() in rules.awareness_types
        ):
            return True
        if _mentions(value, rules.events):
            return True
    return False


def _mentions(text: str, words: Iterable[str]) -> bool:
    lowered = text.casefold()
    return any(re.search(rf"(?<!\w){re.escape(word.casefold())}", lowered) for word in words)


def _awareness_level(parameters: Iterable[tuple[str, str]]) -> str | None:
    for name, value in parameters:
        if name.lower() == "awareness_level":
            return AWARENESS_SEVERITY.get(value.split(";")[0].strip())
    return None


def filter_from(
    *,
    events: Iterable[str],
    awareness_types: Iterable[str],
    min_severity: str,
    urgencies: Iterable[str],
) -> CapFilter:
    """The filter as configured (CAP_EVENTS, CAP_AWARENESS_TYPES, CAP_MIN_SEVERITY,
    CAP_URGENCIES); an empty list keeps the default."""
    return CapFilter(
        events=tuple(events) or DEFAULT_EVENTS,
        awareness_types=tuple(awareness_types) or DEFAULT_AWARENESS_TYPES,
        min_severity=min_severity,
        urgencies=tuple(urgencies) or ("Immediate", "Expected"),
    )
