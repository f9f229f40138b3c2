"""The clock's lease: one holder at a time, renewed by its holder, taken over once expired."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from outage_notify.clock import ManualClock
from outage_notify.config import Settings
from outage_notify.runtime import Runtime
from outage_notify.scheduler import lease

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(seconds=45)


def take(runtime: Runtime, owner: str, clock: ManualClock) -> bool:
    with runtime.transaction() as session:
        return lease.acquire(session, name="clock", owner=owner, now=clock.now(), ttl=TTL)


def held_by(runtime: Runtime, clock: ManualClock) -> lease.Holder | None:
    with runtime.transaction() as session:
        return lease.holder(session, name="clock", now=clock.now())


def test_the_first_taker_holds_it_and_the_other_is_refused(runtime: Runtime) -> None:
    clock = ManualClock(T0)
    assert take(runtime, "a", clock)
    assert not take(runtime, "b", clock)
    assert held_by(runtime, clock) == lease.Holder("a", T0, T0 + TTL)


def test_the_holder_renews_and_keeps_the_time_it_first_took_it(runtime: Runtime) -> None:
    clock = ManualClock(T0)
    assert take(runtime, "a", clock)
    clock.advance(15)
    assert take(runtime, "a", clock)
    assert held_by(runtime, clock) == lease.Holder("a", T0, clock.now() + TTL)
    clock.advance(44)  # past the first expiry, within the renewed one
    assert not take(runtime, "b", clock)


def test_a_holder_that_comes_back_after_its_lease_ran_out_takes_it_anew(runtime: Runtime) -> None:
    clock = ManualClock(T0)
    assert take(runtime, "a", clock)
    clock.advance(TTL)
    assert take(runtime, "a", clock)
    assert held_by(runtime, clock) == lease.Holder("a", clock.now(), clock.now() + TTL)


def test_a_holder_that_stops_renewing_is_replaced_once_expired_not_before(
    runtime: Runtime,
) -> None:
    clock = ManualClock(T0)
    assert take(runtime, "a", clock)
    clock.advance(TTL - timedelta(microseconds=1))
    assert not take(runtime, "b", clock)
    assert held_by(runtime, clock) is not None
    clock.advance(timedelta(microseconds=1))
    assert held_by(runtime, clock) is None
    assert take(runtime, "b", clock)
    assert held_by(runtime, clock) == lease.Holder("b", clock.now(), clock.now() + TTL)
    # The old holder comes back: it is refused, and does not take the lease back.
    assert not take(runtime, "a", clock)
    now_held = held_by(runtime, clock)
    assert now_held is not None and now_held.owner == "b"


def test_only_the_holder_releases_and_then_anyone_takes_it_at_once(runtime: Runtime) -> None:
    clock = ManualClock(T0)
    assert take(runtime, "a", clock)
    with runtime.transaction() as session:
        assert not lease.release(session, name="clock", owner="b")
    assert not take(runtime, "b", clock)
    with runtime.transaction() as session:
        assert lease.release(session, name="clock", owner="a")
    assert held_by(runtime, clock) is None
    assert take(runtime, "b", clock)


def test_leases_of_other_names_are_independent(runtime: Runtime) -> None:
    clock = ManualClock(T0)
    assert take(runtime, "a", clock)
    with runtime.transaction() as session:
        assert lease.acquire(session, name="other", owner="b", now=clock.now(), ttl=TTL)


def test_of_many_processes_trying_at_once_exactly_one_takes_it(
    make_settings: Callable[..., Settings],
) -> None:
    """Two runtimes (two engines, as two processes have) on one database, four threads each,
    all trying at the same instant, round after round with the lease expired each time."""
    runtimes = [Runtime.build(make_settings()), Runtime.build(make_settings())]
    clock = ManualClock(T0)
    winners: list[list[str]] = []
    try:
        for _ in range(10):
            clock.advance(TTL)
            barrier = threading.Barrier(8)
            won: list[str] = []

            def attempt(
                runtime: Runtime, owner: str, barrier: threading.Barrier, won: list[str]
            ) -> None:
                barrier.wait()
                if take(runtime, owner, clock):
                    won.append(owner)

            threads = [
                threading.Thread(
                    target=attempt, args=(runtimes[n % 2], f"p{n % 2}-t{n}", barrier, won)
                )
                for n in range(8)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            winners.append(won)
            assert held_by(runtimes[0], clock) == lease.Holder(
                won[0], clock.now(), clock.now() + TTL
            )
    finally:
        for runtime in runtimes:
            runtime.close()
    assert [len(won) for won in winners] == [1] * 10
