"""Cuts database sockets whose statement outlived its deadline.

A frozen (SIGSTOPped) server's kernel still acknowledges every packet, so neither the server's
statement_timeout nor TCP keepalives ever fire and the driver would wait for the whole freeze.
Shutting the socket down makes the driver fail at once with a disconnect, which SQLAlchemy
handles: the pool is invalidated and the request gets StorageUnavailable.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any


class Watchdog:
    def __init__(self, tick_seconds: float = 0.1) -> None:
        self.tick_seconds = tick_seconds
        #: fd -> (deadline, the driver connection it belongs to, or None)
        self._deadlines: dict[int, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.cut = 0  # sockets cut so far, for tests and benchmarks

    def arm(self, fd: int, seconds: float, owner: Any = None) -> None:
        """`owner`: the driver connection of `fd`; once it is closed the number may belong to
        another connection (the kernel reuses it at once), which must not be cut."""
        with self._lock:
            self._deadlines[fd] = (time.monotonic() + seconds, owner)
            if self._thread is None:  # started on first use: no threads at import or build time
                self._thread = threading.Thread(target=self._run, name="db-watchdog", daemon=True)
                self._thread.start()

    def disarm(self, fd: int) -> None:
        with self._lock:
            self._deadlines.pop(fd, None)

    def forget(self, owner: Any) -> None:
        """Disarms whatever `owner` armed: a statement that failed on a closed connection has no
        fd left to name, and its deadline would later cut the connection given that number."""
        with self._lock:
            for fd in [fd for fd, (_, armed) in self._deadlines.items() if armed is owner]:
                del self._deadlines[fd]

    def _run(self) -> None:
        while True:
            time.sleep(self.tick_seconds)
            now = time.monotonic()
            with self._lock:
                expired = [
                    fd
                    for fd, (deadline, owner) in self._deadlines.items()
                    if deadline <= now and not getattr(owner, "closed", False)
                ]
                for fd in [fd for fd, (deadline, _) in self._deadlines.items() if deadline <= now]:
                    del self._deadlines[fd]
            for fd in expired:
                self.cut += 1  # before the cut: the waiting thread may look as soon as it wakes
                _shut(fd)


def _shut(fd: int) -> None:
    try:
        # fromfd duplicates the descriptor: shutting the duplicate ends the shared connection,
        # closing it leaves the driver's own descriptor for the driver to close.
        with socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM) as duplicate:
            duplicate.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed: nothing is waiting on it any more
