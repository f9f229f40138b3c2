"""A feed's spec, health and backoff: pure parts of the poller."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outage_notify.db.models import Feed
from outage_notify.ingest.feeds import MAX_BACKOFF, backoff, redacted_spec, state_of
from outage_notify.ingest.outage_poll import FeedSpec

NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


def test_a_bare_url_is_the_canonical_form_and_a_prefix_names_a_mapping() -> None:
    bare = FeedSpec.parse("https://oms.example/outages.geojson")
    assert (bare.mapping, bare.url) == ("geojson", "https://oms.example/outages.geojson")
    pge = FeedSpec.parse("pge+https://example.com/pge.json?token=s3cret")
    assert (pge.mapping, pge.url) == ("pge", "https://example.com/pge.json?token=s3cret")
    assert pge.source.startswith("feed:") and len(pge.source) <= 20
    assert bare.id != pge.id and FeedSpec.parse(pge.spec).id == pge.id


def test_an_unknown_format_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown feed format 'acme'.*geojson.*pge"):
        FeedSpec.parse("acme+https://oms.example/x.json")


def test_a_url_with_a_plus_in_its_path_is_still_a_bare_url() -> None:
    spec = FeedSpec.parse("https://oms.example/a+b.json")
    assert (spec.mapping, spec.url) == ("geojson", "https://oms.example/a+b.json")


def test_the_actor_and_the_shown_spec_keep_no_secret() -> None:
    spec = FeedSpec.parse("pge+https://user:pw@example.com:8443/pge.json?token=s3cret")
    assert spec.actor == "feed:pge:https://example.com:8443/pge.json"
    shown = redacted_spec(spec.spec)
    assert shown == "pge+https://example.com:8443/pge.json"
    assert "pw" not in shown and "s3cret" not in shown


def test_backoff_doubles_from_one_period_up_to_the_cap() -> None:
    assert [backoff(n, 60).total_seconds() for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert backoff(40, 60) == MAX_BACKOFF


@given(failures=st.integers(min_value=0, max_value=10_000), period=st.floats(0.01, 3600))
def test_backoff_is_never_shorter_than_a_period_nor_longer_than_the_cap(
    failures: int, period: float
) -> None:
    wait = backoff(failures, period)
    assert min(timedelta(seconds=period), MAX_BACKOFF) <= wait <= MAX_BACKOFF


def _feed(**fields: object) -> Feed:
    values: dict[str, object] = {"id": "f", "spec": "x", "polls": 1, "failures": 0}
    values.update(fields)
    return Feed(**values)


@pytest.mark.parametrize(
    ("fields", "state"),
    [
        ({"last_success_at": None, "polls": 0}, "never"),
        ({"last_success_at": NOW - timedelta(seconds=30)}, "ok"),
        ({"last_success_at": NOW - timedelta(seconds=30), "failures": 1}, "stale"),
        ({"last_success_at": NOW - timedelta(minutes=4)}, "stale"),
    ],
)
def test_a_feed_is_stale_once_a_poll_failed_or_it_went_unread(
    fields: dict[str, object], state: str
) -> None:
    assert state_of(_feed(**fields), now=NOW, poll_seconds=60) == state
