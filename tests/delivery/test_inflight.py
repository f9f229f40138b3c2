"""Marks in flight written together when sending threads ask together (group commit): each
thread learns its own answer, and only after the write that holds its mark."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from outage_notify.delivery.inflight import InFlightMarks


class Writer:
    def __init__(self, held: set[int], fail: bool = False) -> None:
        self.held, self.fail = held, fail
        self.batches: list[list[int]] = []
        self.gate = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, ids: Sequence[int]) -> set[int]:
        self.gate.wait(5)  # the first write is slow: others ask meanwhile
        with self.lock:
            self.batches.append(list(ids))
        if self.fail:
            raise RuntimeError("database is locked")
        return {i for i in ids if i in self.held}


def ask_together(marks: InFlightMarks, ids: range) -> dict[int, object]:
    answers: dict[int, object] = {}

    def ask(nid: int) -> None:
        try:
            answers[nid] = marks.mark(nid)
        except RuntimeError as exc:
            answers[nid] = exc

    threads = [threading.Thread(target=ask, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    return answers if all(t.join(10) is None for t in threads) else {}


def test_each_thread_gets_its_own_answer_from_fewer_writes() -> None:
    writer = Writer(held=set(range(0, 16, 2)))  # odd ids: the lease went to another worker
    marks = InFlightMarks(writer)
    threading.Timer(0.2, writer.gate.set).start()
    answers = ask_together(marks, range(16))
    assert answers == {i: i % 2 == 0 for i in range(16)}
    assert sorted(i for batch in writer.batches for i in batch) == list(range(16))
    assert len(writer.batches) < 16  # asked together, written together


def test_a_failed_write_fails_every_mark_it_held_and_nothing_is_left_waiting() -> None:
    writer = Writer(held=set(range(8)), fail=True)
    writer.gate.set()
    marks = InFlightMarks(writer)
    answers = ask_together(marks, range(8))
    assert len(answers) == 8 and all(isinstance(a, RuntimeError) for a in answers.values())
    writer.fail = False
    assert marks.mark(3) is True  # the next ask writes again


def test_a_mark_is_answered_only_after_a_write_that_includes_it() -> None:
    seen: list[int] = []

    def write(ids: Sequence[int]) -> set[int]:
        seen.extend(ids)
        return set(ids)

    marks = InFlightMarks(write)
    assert marks.mark(7) is True and seen == [7]
    assert marks.mark(7) is True and seen == [7, 7]  # asked again, written again
