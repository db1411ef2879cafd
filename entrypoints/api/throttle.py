"""Wrong credentials, per client: each one logged (never what was sent), and a client with too
many in a minute refused for a while without its credentials being compared."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask import Flask, current_app, request

from application.ports import StorageUnavailable, UnitOfWork
from entrypoints.api.errors import error_response

log = logging.getLogger("recsys.auth")
#: wrong credentials a client may send per WINDOW_SECONDS: plenty for a person mistyping,
#: nothing for guessing (1,000 a second were answered before)
LIMIT = 10
WINDOW_SECONDS = 60.0
WINDOW = timedelta(seconds=WINDOW_SECONDS)
#: clients remembered at most between clean-ups of this process's own count
ADDRESSES = 10_000


class TooManyFailures(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"too many wrong credentials from this address: retry in {seconds:.0f} s")
        self.seconds = seconds


def client_key(address: str | None) -> str:
    """Who is counted: an IPv4 address, or an IPv6 address's /64 network (what one subscriber
    or host is given: counted per address, it would have 2^64 addresses to guess from), hashed:
    a pseudonym, not a secret (IPv4 addresses can be recovered by trying them all)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        client = str(address)
    else:
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        if mapped is not None or ip.version == 4:
            client = str(mapped or ip)
        else:
            client = str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return hashlib.sha256(client.encode()).hexdigest()


class FailedAttempts:
    """Counted in the database, so a client gets LIMIT on every worker and host together; while
    the database does not answer, in this process, as it was before (and the requests that
    need no database still answer)."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, deque[datetime]] = {}  # this process's own, newest last
        #: client -> until when it is refused, as this process last found: a refused client's
        #: requests cost no database read, and a burst of wrong credentials is cut short here
        self._refused: dict[str, datetime] = {}

    def _recent(self, client: str, now: datetime, add: bool = False) -> list[datetime]:
        """The client's failures in the window, the latest first (one indexed read), after
        recording one more with `add`."""
        try:
            with self.uow_factory() as uow:
                if add:
                    uow.credential_failures.add(client, now, now - WINDOW)
                    uow.commit()
                return uow.credential_failures.recent(client, now - WINDOW, LIMIT)
        except StorageUnavailable:
            with self._lock:
                own = self._failures.get(client, ())
                return [moment for moment in reversed(own) if moment > now - WINDOW]

    def check(self) -> None:
        """Raises TooManyFailures while the caller is refused."""
        client, now = client_key(request.remote_addr), self.clock()
        with self._lock:
            until = self._refused.get(client)
        if until is None or until <= now:
            until = self._refuse_until(client, self._recent(client, now), now)
        if until is not None and until > now:
            raise TooManyFailures((until - now).total_seconds())

    def _refuse_until(self, client: str, recent: list[datetime], now: datetime) -> datetime | None:
        """Until when `recent` failures (the latest first) refuse `client`, remembered here."""
        if len(recent) < LIMIT or recent[LIMIT - 1] + WINDOW <= now:
            return None
        until = recent[LIMIT - 1] + WINDOW
        with self._lock:
            if len(self._refused) >= ADDRESSES:
                self._refused = {c: t for c, t in self._refused.items() if t > now}
            self._refused[client] = until
        return until

    def failed(self, credential: str) -> None:
        address, client, now = (
            str(request.remote_addr),
            client_key(request.remote_addr),
            self.clock(),
        )
        with self._lock:
            if len(self._failures) >= ADDRESSES:
                self._failures = {c: t for c, t in self._failures.items() if t[-1] > now - WINDOW}
            self._failures.setdefault(client, deque(maxlen=LIMIT)).append(now)
        recent = self._recent(client, now, add=True)
        self._refuse_until(client, recent, now)
        count = len(recent)
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


def install(app: Flask, uow_factory: Callable[[], UnitOfWork]) -> None:
    app.extensions["recsys.failed_attempts"] = FailedAttempts(uow_factory)

    @app.errorhandler(TooManyFailures)
    def too_many(error: TooManyFailures):  # type: ignore[no-untyped-def]
        response, status = error_response(429, "too_many_failures", str(error))
        response.headers["Retry-After"] = str(math.ceil(error.seconds))
        return response, status
