"""Marking messages in flight just before their provider calls, several at once.

After a crash only messages marked in flight may have reached a provider, so only they are
sent again and flagged as possible duplicates; the mark must therefore be written before each
call, never earlier. The sending threads of a worker ask for their marks at about the same
moments, and on SQLite every write takes the database's one lock: one transaction per message
makes the threads queue for it (and, holding the GIL in turn, convoy). So the marks asked for
while a write is under way are written together by the next one (group commit). Each thread
still sends only after its own mark is committed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

MarkWriter = Callable[[Sequence[int]], set[int]]


class InFlightMarks:
    def __init__(self, write: MarkWriter) -> None:
        """write(ids) marks those ids in one transaction and returns the ones it marked."""
        self._write = write
        self._changed = threading.Condition()
        self._asked: dict[int, bool | BaseException | None] = {}  # None: not written yet
        self._writing = False

    def mark(self, notification_id: int) -> bool:
        """True once the mark is committed: send. False: the lease is gone, do not send.
        Raises what the write raised (then the message must not be sent now)."""
        with self._changed:
            self._asked[notification_id] = None
            while self._asked[notification_id] is None:
                if self._writing:
                    self._changed.wait()
                else:
                    self._write_pending()
            answer = self._asked.pop(notification_id)
        if isinstance(answer, BaseException):
            raise answer
        return bool(answer)

    def _write_pending(self) -> None:
        """Called holding the condition's lock; writes outside it."""
        batch = [nid for nid, answer in self._asked.items() if answer is None]
        self._writing = True
        self._changed.release()
        try:
            marked: set[int] | BaseException = self._write(batch)
        except BaseException as exc:  # every asker of this batch learns it failed
            marked = exc
        finally:
            self._changed.acquire()
            self._writing = False
        for nid in batch:
            self._asked[nid] = marked if isinstance(marked, BaseException) else nid in marked
        self._changed.notify_all()
