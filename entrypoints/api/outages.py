"""One log line when a database outage starts, however many requests it fails, and one when it ends."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class OutageLog:
    """Logs the first failure of a burst; failures within `quiet_seconds` of the last one belong
    to the same burst and are only counted (the next burst's line says how many there were).

    `answered()` is called after every statement the database answers. The first one at least
    `settle_seconds` after the burst's last failure logs that the database is back, with the
    outage's length and how many requests it failed; the next failure then starts a new burst.
    A database that fails and answers in turn (a SQLite lock held for seconds at a time) stays
    one burst, so it is not a line per request.
    """

    def __init__(
        self,
        log: logging.Logger,
        quiet_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        settle_seconds: float = 5.0,
    ) -> None:
        self.log = log
        self.quiet_seconds = quiet_seconds
        self.settle_seconds = settle_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._last: float | None = None
        self._suppressed = 0
        #: when the outage being watched began, and the requests it failed; None: none is
        self._since: float | None = None
        self._failures = 0

    def failed(self, cause: str) -> None:
        now = self.clock()
        with self._lock:
            in_burst = self._last is not None and now - self._last < self.quiet_seconds
            self._last = now
            self._failures += 1
            if in_burst:
                self._suppressed += 1
                return
            earlier, self._suppressed = self._suppressed, 0
            self._since, self._failures = now, 1
        note = f" ({earlier} more failures in the previous outage)" if earlier else ""
        self.log.error("database unavailable, answering 503 until it is back: %s%s", cause, note)

    def answered(self) -> None:
        if self._since is None:  # the request path: no outage, no lock
            return
        now = self.clock()
        with self._lock:
            if self._since is None or self._last is None or now - self._last < self.settle_seconds:
                return
            lasted, failures = self._last - self._since, self._failures
            self._since = self._last = None
            self._failures = self._suppressed = 0
        requests = "1 request" if failures == 1 else f"{failures} requests"
        self.log.warning(
            "database back: it answers again (%s answered 503 over %.0f s)", requests, lasted
        )
