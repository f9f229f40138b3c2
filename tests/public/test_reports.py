"""Customers' outage reports (public/reports.py): what the form must hold, and the proposed
clusters: close in place and time, each report in one at most, a lone report in none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outage_notify.public.reports import (
    MAX_TEXT,
    ReportPoint,
    ReportRefused,
    distance_m,
    parse_report,
    propose,
)

T0 = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
METRE_LAT = 1 / 111_320  # degrees of latitude in a metre, near enough


def at(n: int, metres_north: float, minutes: float = 0) -> ReportPoint:
    return ReportPoint(
        id=n, at=T0 + timedelta(minutes=minutes), lat=60.2 + metres_north * METRE_LAT, lon=24.9
    )


def test_a_report_needs_a_street_and_number_and_keeps_its_words() -> None:
    form = parse_report("Jokikatu 14 B 3", "  a line is down  ")
    assert form.address.prefix == "Jokikatu 14" and form.text == "a line is down"
    assert parse_report("Jokikatu 14", "").text is None


@pytest.mark.parametrize(
    ("address", "text", "reason"),
    [
        ("", "", "Give the street address"),
        ("Jokikatu", "", "a street name and a house number"),
        ("Jokikatu 14", "x" * (MAX_TEXT + 1), f"longer than {MAX_TEXT} characters"),
        ("Jokikatu 14", "bad\x00byte", "cannot be kept"),
    ],
)
def test_bad_reports_are_refused_with_the_reason(address: str, text: str, reason: str) -> None:
    with pytest.raises(ReportRefused, match=reason):
        parse_report(address, text)


def test_reports_close_in_place_and_time_are_proposed_together() -> None:
    points = [at(1, 0), at(2, 300, 10), at(3, 600, 20), at(4, 5_000), at(5, 0, 120)]
    [proposal] = propose(points)
    # 1-2-3 chain within 500 m and 30 min of each other; 4 is too far, 5 too late.
    assert proposal.reports == (1, 2, 3)
    assert (proposal.first, proposal.last) == (T0, T0 + timedelta(minutes=20))
    ring = proposal.area["coordinates"][0]  # type: ignore[index]
    lats = [lat for _, lat in ring]
    assert min(lats) < points[0].lat and max(lats) > points[2].lat


def test_a_lone_report_proposes_nothing() -> None:
    assert propose([at(1, 0)]) == [] and propose([]) == []


points_strategy = st.lists(
    st.tuples(
        st.floats(min_value=-3000, max_value=3000),
        st.floats(min_value=0, max_value=180),
    ),
    max_size=40,
)


@settings(deadline=None)  # timing belongs in bench/, not here
@given(raw=points_strategy)
def test_every_report_is_in_one_proposal_at_most_and_each_has_a_close_neighbour(
    raw: list[tuple[float, float]],
) -> None:
    points = [at(n, metres, minutes) for n, (metres, minutes) in enumerate(raw)]
    proposals = propose(points)
    seen = [i for p in proposals for i in p.reports]
    assert len(seen) == len(set(seen))
    by_id = {p.id: p for p in points}
    for proposal in proposals:
        assert len(proposal.reports) >= 2
        for i in proposal.reports:
            me = by_id[i]
            assert any(
                distance_m(me, by_id[j]) <= 500
                and abs(me.at - by_id[j].at) <= timedelta(minutes=30)
                for j in proposal.reports
                if j != i
            )
