"""Failed sign-ins, counted per username: after FAILURES wrong passwords within WINDOW, that
username is refused (even with the right password) until the oldest of them is WINDOW old.

Kept in the memory of each process, not in the database: there is no table for it, and the
service's key-value table (app_meta) is for the deployment's own values, not for a row per
name someone typed. So each process counts alone and a restart forgets: with N processes
behind a load balancer a guesser gets at most N × FAILURES tries per WINDOW, which is still
nothing against a 12-character password. A table (username, failures, locked_until) would
make it exact across processes, should that ever matter.

Unknown usernames are counted like known ones, so a refusal does not say which exist. The
number of names remembered is bounded, so a flood of made-up names cannot fill memory; past
the bound the names least recently failed are forgotten first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from datetime import datetime, timedelta

FAILURES = 5
WINDOW = timedelta(minutes=15)
MAX_NAMES = 10_000


class LoginThrottle:
    def __init__(
        self, *, failures: int = FAILURES, window: timedelta = WINDOW, max_names: int = MAX_NAMES
    ) -> None:
        self.failures = failures
        self.window = window
        self.max_names = max_names
        self._failed: OrderedDict[str, deque[datetime]] = OrderedDict()
        self._lock = threading.Lock()  # requests are served from a pool of threads

    def locked_until(self, name: str, *, now: datetime) -> datetime | None:
        """When this username may try again; None when it may try now."""
        with self._lock:
            times = self._recent(name, now)
            if len(times) < self.failures:
                return None
            return times[-self.failures] + self.window

    def failed(self, name: str, *, now: datetime) -> None:
        with self._lock:
            times = self._recent(name, now)
            times.append(now)
            self._failed[name] = times
            self._failed.move_to_end(name)
            while len(self._failed) > self.max_names:
                self._failed.popitem(last=False)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failed.pop(name, None)

    def _recent(self, name: str, now: datetime) -> deque[datetime]:
        """This name's failures within the window (older ones dropped), at most `failures`."""
        times = self._failed.get(name, deque(maxlen=self.failures))
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            self._failed.pop(name, None)
        return times
