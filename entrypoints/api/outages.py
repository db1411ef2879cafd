"""One log line per database outage, however many requests it fails."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class OutageLog:
    """Logs the first failure of a burst; failures within `quiet_seconds` of the last one belong
    to the same burst and are only counted (the next burst's line says how many there were)."""

    def __init__(
        self,
        log: logging.Logger,
        quiet_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = log
        self.quiet_seconds = quiet_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._last: float | None = None
        self._suppressed = 0

    def failed(self, cause: str) -> None:
        now = self.clock()
        with self._lock:
            in_burst = self._last is not None and now - self._last < self.quiet_seconds
            self._last = now
            if in_burst:
                self._suppressed += 1
                return
            earlier, self._suppressed = self._suppressed, 0
        note = f" ({earlier} more failures in the previous outage)" if earlier else ""
        self.log.error("database unavailable, answering 503 until it is back: %s%s", cause, note)
