"""Failed sign-ins per username: five within fifteen minutes refuse the username until the
oldest of them is fifteen minutes old; a success forgets them; memory stays bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from outage_notify.auth.throttle import LoginThrottle

START = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def test_five_failures_within_the_window_lock_until_the_first_leaves_it() -> None:
    throttle = LoginThrottle()
    for n in range(4):
        throttle.failed("maija", now=START + n * MINUTE)
        assert throttle.locked_until("maija", now=START + n * MINUTE) is None
    throttle.failed("maija", now=START + 4 * MINUTE)
    assert throttle.locked_until("maija", now=START + 4 * MINUTE) == START + 15 * MINUTE
    assert throttle.locked_until("maija", now=START + 15 * MINUTE - timedelta(seconds=1))
    assert throttle.locked_until("maija", now=START + 15 * MINUTE) is None
    # Other usernames are not concerned.
    assert throttle.locked_until("anna", now=START + 4 * MINUTE) is None


def test_one_more_failure_once_free_again_locks_again() -> None:
    throttle = LoginThrottle()
    for n in range(5):
        throttle.failed("maija", now=START + n * MINUTE)
    throttle.failed("maija", now=START + 15 * MINUTE)  # four earlier ones still count
    assert throttle.locked_until("maija", now=START + 15 * MINUTE) == START + 16 * MINUTE


def test_failures_spread_wider_than_the_window_never_lock() -> None:
    throttle = LoginThrottle()
    for n in range(20):
        now = START + n * 4 * MINUTE  # one every 4 minutes: at most 4 in any 15 minutes
        throttle.failed("maija", now=now)
        assert throttle.locked_until("maija", now=now) is None


def test_a_success_forgets_the_failures() -> None:
    throttle = LoginThrottle()
    for n in range(4):
        throttle.failed("maija", now=START + n * MINUTE)
    throttle.succeeded("maija")
    throttle.failed("maija", now=START + 5 * MINUTE)
    assert throttle.locked_until("maija", now=START + 5 * MINUTE) is None


def test_a_flood_of_names_is_bounded_forgetting_the_least_recent_first() -> None:
    throttle = LoginThrottle(max_names=3)
    for n in range(5):
        throttle.failed("maija", now=START + n * MINUTE)
    for name in ("a", "b", "c"):
        throttle.failed(name, now=START + 6 * MINUTE)
    assert throttle.locked_until("maija", now=START + 6 * MINUTE) is None  # forgotten
    throttle.failed("d", now=START + 7 * MINUTE)
    assert len(throttle._failed) == 3


@given(st.lists(st.integers(min_value=0, max_value=3600), max_size=30), st.integers(0, 4000))
def test_locked_exactly_when_five_failures_lie_within_the_window(
    seconds: list[int], later: int
) -> None:
    throttle = LoginThrottle()
    times = [START + timedelta(seconds=s) for s in sorted(seconds)]
    for at in times:
        throttle.failed("maija", now=at)
    now = (times[-1] if times else START) + timedelta(seconds=later)
    recent = [at for at in times if at > now - timedelta(minutes=15)]
    until = throttle.locked_until("maija", now=now)
    assert (until is not None) == (len(recent) >= 5)
    if until is not None:
        assert until == recent[-5] + timedelta(minutes=15)
