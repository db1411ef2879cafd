"""Wrong credentials per client, counted in the database every worker and host shares: a client
with too many in a minute is refused for the rest of it, without its credentials compared."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from application.ports import StorageUnavailable, UnitOfWork

#: wrong credentials a client may send per WINDOW: plenty for a person mistyping, nothing for
#: guessing (1,000 a second were answered before)
LIMIT = 10
WINDOW = timedelta(seconds=60)
#: clients remembered at most between clean-ups of this process's own records
CLIENTS = 10_000


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


class FailedCredentials:
    """Counted in the database, so a client gets LIMIT on every worker and host together; while
    the database does not answer, in this process (so that what answers without the database
    still does)."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        reads: Callable[[], UnitOfWork] | None = None,
    ) -> None:
        self.uow_factory = uow_factory
        #: units of work for the check every request makes, which writes nothing
        self.reads = reads or uow_factory
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, deque[datetime]] = {}  # this process's own, newest last
        #: client -> until when it is refused, as this process last found: a refused client's
        #: requests cost no database read, and a burst of wrong credentials is cut short here
        self._refused: dict[str, datetime] = {}
        #: client -> hashes of the wrong credentials this process counted in the window, and when;
        #: keyed by a secret of this process, so that a memory dump holds nothing to try guesses on
        self._sent: dict[str, dict[bytes, datetime]] = {}
        self._pepper = secrets.token_bytes(32)

    def check(self, address: str | None) -> None:
        """Raises TooManyFailures while the client at `address` is refused."""
        client, now = client_key(address), self.clock()
        with self._lock:
            until = self._refused.get(client)
        if until is None or until <= now:
            until = self._refuse_until(client, self._recent(client, now), now)
        if until is not None and until > now:
            raise TooManyFailures((until - now).total_seconds())

    def failed(self, address: str | None, sent: str) -> int:
        """Counts one wrong credential of the client at `address`, unless this process counted
        the same `sent` from it within the window: a guesser sends a new one each time, while an
        LMS node still holding an old key after a rotation sends that one again and again, and
        got its address refused, with every learner's request it relays. `sent` is held here as
        a hash for the window, never stored. Returns how many the client sent in the window
        (LIMIT: it is refused from now on)."""
        client, now = client_key(address), self.clock()
        seen = hmac.digest(self._pepper, sent.encode("utf-8", "surrogatepass"), "sha256")
        with self._lock:
            if len(self._failures) >= CLIENTS:
                self._failures = {c: t for c, t in self._failures.items() if t[-1] > now - WINDOW}
                self._sent = {c: self._sent[c] for c in self._failures if c in self._sent}
            sent_lately = {h: t for h, t in self._sent.get(client, {}).items() if t > now - WINDOW}
            again = seen in sent_lately
            if not again:
                sent_lately[seen] = now
                self._failures.setdefault(client, deque(maxlen=LIMIT)).append(now)
            self._sent[client] = sent_lately
        recent = self._recent(client, now, add=not again)
        self._refuse_until(client, recent, now)
        return len(recent)

    def _recent(self, client: str, now: datetime, add: bool = False) -> list[datetime]:
        """The client's failures in the window, the latest first (one indexed read), after
        recording one more with `add`."""
        try:
            with (self.uow_factory if add else self.reads)() as uow:
                if add:
                    uow.credential_failures.add(client, now, now - WINDOW)
                    uow.commit()
                return uow.credential_failures.recent(client, now - WINDOW, LIMIT)
        except StorageUnavailable:
            with self._lock:
                own = self._failures.get(client, ())
                return [moment for moment in reversed(own) if moment > now - WINDOW]

    def _refuse_until(self, client: str, recent: list[datetime], now: datetime) -> datetime | None:
        """Until when `recent` failures (the latest first) refuse `client`, remembered here."""
        if len(recent) < LIMIT or recent[LIMIT - 1] + WINDOW <= now:
            return None
        until = recent[LIMIT - 1] + WINDOW
        with self._lock:
            if len(self._refused) >= CLIENTS:
                self._refused = {c: t for c, t in self._refused.items() if t > now}
            self._refused[client] = until
        return until
