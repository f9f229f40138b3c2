"""The address search's query: a street and a house number, or a refusal with the reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outage_notify.public.address import AddressRefused, parse_address


@pytest.mark.parametrize(
    ("typed", "prefix"),
    [
        ("Jokikatu 14", "Jokikatu 14"),
        ("  Jokikatu   14 , Porvoo ", "Jokikatu 14"),
        ("Västra strandvägen 60 A 12, Borgå", "Västra strandvägen 60"),
        ("Vanha Helsingintie 3b", "Vanha Helsingintie 3b"),
        ("St. Mary's Road 5", "St. Mary's Road 5"),
    ],
)
def test_a_street_and_number_are_read(typed: str, prefix: str) -> None:
    assert parse_address(typed).prefix == prefix


@pytest.mark.parametrize(
    "typed", ["", "ab", "Jokikatu", "14", "Jo 14", "Jokikatu14", "14 Jokikatu", "%% 14", "___ 1"]
)
def test_anything_vaguer_is_refused(typed: str) -> None:
    with pytest.raises(AddressRefused, match="for example Jokikatu 14"):
        parse_address(typed)


def test_the_number_is_matched_whole() -> None:
    query = parse_address("Jokikatu 14")
    assert query.matches("Jokikatu 14, Porvoo")
    assert query.matches("jokikatu 14 B 3, Porvoo")
    assert query.matches("JOKIKATU 14")
    assert not query.matches("Jokikatu 140, Porvoo")
    assert not query.matches("Jokikatu 14b, Porvoo")  # another house
    assert not query.matches("Vanha Jokikatu 14")
    assert not query.matches(None)
    assert parse_address("ågatan 3").matches("Ågatan 3, Borgå")


@given(st.text(max_size=300))
def test_any_text_is_read_or_refused_never_crashes(typed: str) -> None:
    try:
        query = parse_address(typed)
    except AddressRefused:
        return  # refused, with a reason (the cases above)
    assert any(ch.isdigit() for ch in query.number)
    assert len(query.prefix) <= 200
