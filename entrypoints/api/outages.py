"""One log line when a database outage starts, however many requests it fails, and one when it ends."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class OutageLog:
    """`failed()` for each request the database failed, `answered()` after each statement it
    answered. The first failure opens an outage and logs it; the outage ends at the first answer
    `quiet_seconds` or more after its last failure, which logs how long it lasted and how many
    requests it failed. A database that fails and answers in turn (a lock held now and then, a
    flapping network) is one outage until it has answered for `quiet_seconds`: a few lines, not
    a line per request. While an outage lasts, a failure `repeat_seconds` after the last line
    says it still does, with the latest cause (which may have changed).
    """

    def __init__(
        self,
        log: logging.Logger,
        quiet_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        repeat_seconds: float = 300.0,
    ) -> None:
        self.log = log
        self.quiet_seconds = quiet_seconds
        self.repeat_seconds = repeat_seconds
        self.clock = clock
        self._lock = threading.Lock()
        #: the open outage's first and last failure (None: no outage), the requests it failed,
        #: and when a line last spoke of it
        self._since: float | None = None
        self._last = self._said = 0.0
        self._failures = 0

    def failed(self, cause: str) -> None:
        with self._lock:
            now = self.clock()  # under the lock: an answer in between cannot see a stale _last
            self._last = now
            self._failures += 1
            if self._since is None:
                self._since = self._said = now
                failures, lasted = 0, 0.0
            elif now - self._said >= self.repeat_seconds:
                self._said = now
                failures, lasted = self._failures, now - self._since
            else:
                return
        if not failures:
            self.log.error("database unavailable, answering 503 until it is back: %s", cause)
            return
        self.log.error(
            "database still failing: %d requests answered 503 over %.0f s; latest: %s",
            failures,
            lasted,
            cause,
        )

    def answered(self) -> None:
        if self._since is None:  # the request path: no outage, no lock
            return
        now = self.clock()
        with self._lock:
            if self._since is None or now - self._last < self.quiet_seconds:
                return
            lasted, failures = self._last - self._since, self._failures
            self._since, self._failures = None, 0
        requests = "1 request" if failures == 1 else f"{failures} requests"
        self.log.warning(
            "database back: answering, and no failure for %.0f s (%s answered 503 over %.0f s)",
            self.quiet_seconds,
            requests,
            lasted,
        )
