"""A circuit breaker per process: once the database fails again, requests fail at once for a while.

Without it, every request of an outage (a frozen server, a SQLite write lock held) waits the
whole timeout before its 503: requests pile up behind each other, take every worker thread, and
even /healthz waits for a free one. With it, a second failure of work begun within two windows
of the first (with no unit of work succeeding between them) opens it: the others within
`window` seconds answer 503 at once; then one request tries again (half-open) while the rest
still answer at once, and the first unit of work begun after the failure that succeeds closes it. One failure
alone (a connection reset, one lock wait too long) does not open it: a whole window of 503s
for one blip would cost more than the blip. Nor do the requests in flight when every connection
was cut at once (pg_terminate_backend, a pooler restarting): each fails at once, begun before the
first of them, and the next request reconnects; only work that waited counts as well.
After a lock (the database answered, but a write waited for another's lock past the timeout),
units of reads alone (the `reads` units: a home request's history, the models' refresh) are
let through, and only a unit that wrote closes it; a try that only read passes the turn to the
next caller at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from application.ports import StorageUnavailable

#: the database's default timeout: a failure keeps others off for as long as it waited
DEFAULT_WINDOW_SECONDS = 3.0


class Breaker:
    def __init__(
        self, window: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.window = window or DEFAULT_WINDOW_SECONDS
        self.clock = clock
        self._lock = threading.Lock()
        self._opened_at: float | None = None  # None: closed
        self._failed_at: float | None = None  # the last failure no success followed
        #: the last failure was a lock: only a unit of work that wrote shows it is gone (SQLite
        #: answers reads while another connection holds the write lock)
        self._lock_failure = False
        self._cause = ""
        #: when this thread's unit of work was admitted, to tell a failure of the same blip
        self._admitted = threading.local()

    def admit(self, read_only: bool = False) -> float:
        """Before a unit of work: raises StorageUnavailable while open, else a token for
        `succeeded`. After each `window` one caller is let through, to try. `read_only`: a unit
        of reads alone, let through while only writes wait for a lock."""
        now = self.clock()
        self._admitted.at, self._admitted.read_only = now, read_only
        tries = False
        if self._opened_at is not None:  # (None: the request path, no outage, no lock)
            with self._lock:
                if self._opened_at is None or (read_only and self._lock_failure):
                    pass  # closed meanwhile; or reads, which SQLite's WAL and PostgreSQL answer
                elif now - self._opened_at >= self.window:
                    self._opened_at, tries = now, True  # this caller tries; the next, a window on
                else:
                    ago, cause = now - self._opened_at, self._cause
                    raise StorageUnavailable(
                        f"{cause} ({ago:.1f}s ago; not tried again for {self.window:g}s)"
                    )
        self._admitted.tries = tries
        return now

    def failed(self, cause: str, lock: bool = False) -> None:
        """`lock`: the database answered but a lock kept the work waiting past the timeout (a
        unit of reads kept waiting: reads wait too, as for an outage)."""
        began, self._admitted.at = getattr(self._admitted, "at", None), None
        lock = lock and not (began is not None and self._admitted.read_only)
        with self._lock:
            now = self.clock()
            if (
                began is not None
                and self._failed_at is not None
                and began < self._failed_at
                and now - began < self.window
            ):
                return  # cut with the one that failed first, without waiting: the same blip
            # begun within two windows of the last failure, not ended: a frozen PostgreSQL's
            # connect waits libpq's 2 s at least, past two windows of a 1 s timeout
            since = (began if began is not None else now) - (self._failed_at or 0.0)
            again = self._failed_at is not None and since <= 2 * self.window
            if again or self._opened_at is not None:  # (a half-open try failing reopens it)
                self._opened_at = now
            self._failed_at, self._cause, self._lock_failure = now, cause, lock

    def succeeded(self, token: float, wrote: bool = True) -> None:
        """A unit of work admitted at `token` ended without an outage: closes the breaker if it
        began after the failure (one begun before proves nothing) and, after a lock, if it
        wrote (a read proves nothing either: SQLite answers reads during a write lock)."""
        self._admitted.at = None  # this thread's later failures outside a unit began then
        if self._opened_at is None and self._failed_at is None:
            return
        with self._lock:
            if self._lock_failure and not wrote:
                if getattr(self._admitted, "tries", False) and self._opened_at == token:
                    self._opened_at = token - self.window  # the try, spent on reads: the next
                    # caller tries at once (else a worker's reads starve its writes)
                return
            if self._failed_at is not None and token >= self._failed_at:
                self._opened_at = self._failed_at = None
