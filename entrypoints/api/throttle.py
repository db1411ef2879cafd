"""Wrong credentials, per client address: each one logged (never what was sent), and an address
with too many in a minute refused for a while without its credentials being compared."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable

from flask import Flask, current_app, request

from entrypoints.api.errors import error_response

log = logging.getLogger("recsys.auth")
#: wrong credentials an address may send per WINDOW_SECONDS: plenty for a person mistyping,
#: nothing for guessing (1,000 a second were answered before)
LIMIT = 10
WINDOW_SECONDS = 60.0
#: addresses remembered at most between clean-ups (an attacker spraying addresses)
ADDRESSES = 10_000


class TooManyFailures(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"too many wrong credentials from this address: retry in {seconds:.0f} s")
        self.seconds = seconds


class FailedAttempts:
    """In this process only: each gunicorn worker counts its own, so an address gets LIMIT per
    worker (behind a reverse proxy every client shares the proxy's address)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def check(self) -> None:
        """Raises TooManyFailures while the caller's address is refused."""
        now = self.clock()
        with self._lock:
            recent = self._failures.get(str(request.remote_addr), ())
            wait = recent[-LIMIT] + WINDOW_SECONDS - now if len(recent) >= LIMIT else 0.0
        if wait > 0:
            raise TooManyFailures(wait)

    def failed(self, credential: str) -> None:
        address = str(request.remote_addr)
        now = self.clock()
        with self._lock:
            if len(self._failures) >= ADDRESSES:
                since = now - WINDOW_SECONDS
                self._failures = {a: t for a, t in self._failures.items() if t[-1] > since}
            recent = self._failures.setdefault(address, deque(maxlen=LIMIT))
            recent.append(now)
            count = sum(1 for moment in recent if moment > now - WINDOW_SECONDS)
        log.warning(
            "wrong %s from %s (%s %s)%s",
            credential,
            address,
            request.method,
            request.path,
            f": refused for {WINDOW_SECONDS:.0f} s" if count == LIMIT else "",
            extra={"remote_addr": address, "credential": credential},
        )


def failed_attempts() -> FailedAttempts:
    return current_app.extensions["recsys.failed_attempts"]  # type: ignore[no-any-return]


def install(app: Flask) -> None:
    app.extensions["recsys.failed_attempts"] = FailedAttempts()

    @app.errorhandler(TooManyFailures)
    def too_many(error: TooManyFailures):  # type: ignore[no-untyped-def]
        response, status = error_response(429, "too_many_failures", str(error))
        response.headers["Retry-After"] = str(math.ceil(error.seconds))
        return response, status
