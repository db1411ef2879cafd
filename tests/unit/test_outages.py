"""The database watchdog and the outage log, on their own."""

from __future__ import annotations

import logging
import socket
import time

from adapters.sqlalchemy.watchdog import Watchdog
from entrypoints.api.outages import OutageLog


def test_the_watchdog_cuts_a_socket_waiting_past_its_deadline():
    ours, silent_peer = socket.socketpair()
    with ours, silent_peer:
        watchdog = Watchdog(tick_seconds=0.02)
        watchdog.arm(ours.fileno(), 0.1)
        ours.settimeout(10)
        assert ours.recv(1) == b""  # the peer never wrote: only the cut ends the wait
        assert watchdog.cut == 1


def test_a_disarmed_socket_is_left_alone():
    ours, peer = socket.socketpair()
    with ours, peer:
        watchdog = Watchdog(tick_seconds=0.02)
        watchdog.arm(ours.fileno(), 0.05)
        watchdog.disarm(ours.fileno())
        time.sleep(0.2)
        peer.sendall(b"x")
        assert ours.recv(1) == b"x" and watchdog.cut == 0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_outage_burst_logs_once_and_the_next_burst_counts_the_first(caplog):
    clock = Clock()
    outages = OutageLog(logging.getLogger("test.outages"), quiet_seconds=30, clock=clock)
    with caplog.at_level(logging.ERROR, "test.outages"):
        for _ in range(100):
            outages.failed("connection refused")
            clock.now += 1
        clock.now += 60
        outages.failed("connection refused")
    assert len(caplog.records) == 2
    assert "99 more failures" in caplog.records[1].getMessage()
