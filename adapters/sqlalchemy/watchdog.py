"""Cuts database sockets whose statement outlived its deadline.

A frozen (SIGSTOPped) server's kernel still acknowledges every packet, so neither the server's
statement_timeout nor TCP keepalives ever fire and the driver would wait for the whole freeze.
Shutting the socket down makes the driver fail at once with a disconnect, which SQLAlchemy
handles: the pool is invalidated and the request gets StorageUnavailable.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any


class Watchdog:
    """One serves every engine of a process (WATCHDOG; a file descriptor names one socket within
    a process). A thread an engine, never ended, added up in a process that builds engines over
    its life: a trainer migrating at each attempt while it waits for a database that takes no
    writes left thousands within an hour, each waking ten times a second."""

    def __init__(self, tick_seconds: float = 0.1) -> None:
        self.tick_seconds = tick_seconds
        self.cut = 0  # sockets cut so far, for tests and benchmarks
        self._started_anew()
        os.register_at_fork(after_in_child=self._started_anew)

    def _started_anew(self) -> None:
        """A forked child has none of its parent's threads, and must not cut the sockets it
        shares with its parent."""
        #: fd -> (deadline, the driver connection it belongs to, or None)
        self._deadlines: dict[int, tuple[float, Any]] = {}
        self._armed = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None

    def arm(self, fd: int, seconds: float, owner: Any = None) -> None:
        """`owner`: the driver connection of `fd`; once it is closed the number may belong to
        another connection (the kernel reuses it at once), which must not be cut."""
        with self._armed:
            idle = not self._deadlines
            self._deadlines[fd] = (time.monotonic() + seconds, owner)
            if self._thread is None:  # started on first use: no threads at import or build time
                self._thread = threading.Thread(target=self._run, name="db-watchdog", daemon=True)
                self._thread.start()
            elif idle:
                self._armed.notify()

    def disarm(self, fd: int) -> None:
        with self._armed:
            self._deadlines.pop(fd, None)

    def forget(self, owner: Any) -> None:
        """Disarms whatever `owner` armed: a statement that failed on a closed connection has no
        fd left to name, and its deadline would later cut the connection given that number."""
        with self._armed:
            for fd in [fd for fd, (_, armed) in self._deadlines.items() if armed is owner]:
                del self._deadlines[fd]

    def _run(self) -> None:
        while True:
            with self._armed:
                self._armed.wait_for(lambda: self._deadlines)  # asleep while nothing is armed
            time.sleep(self.tick_seconds)
            now = time.monotonic()
            with self._armed:
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


#: the process's watchdog, for every engine
WATCHDOG = Watchdog()


def _shut(fd: int) -> None:
    try:
        # fromfd duplicates the descriptor: shutting the duplicate ends the shared connection,
        # closing it leaves the driver's own descriptor for the driver to close.
        with socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM) as duplicate:
            duplicate.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed: nothing is waiting on it any more
