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


def test_the_first_answer_seconds_after_the_last_failure_says_the_outage_is_over(caplog):
    clock = Clock()
    outages = OutageLog(logging.getLogger("test.outages"), clock=clock, settle_seconds=5)
    with caplog.at_level(logging.WARNING, "test.outages"):
        outages.answered()  # no outage: nothing to say
        for _ in range(10):
            outages.failed("connection refused")
            clock.now += 2
        outages.answered()  # 2 s after the last failure: perhaps a lucky request
        clock.now += 4
        outages.answered()
        outages.answered()
        clock.now += 1
        outages.failed("connection refused")  # a new outage gets its own line at once
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3
    assert lines[1] == "database back: it answers again (10 requests answered 503 over 18 s)"
    assert lines[2].startswith("database unavailable") and "more failures" not in lines[2]


def test_a_database_failing_and_answering_in_turn_is_one_outage_not_a_line_each(caplog):
    clock = Clock()
    outages = OutageLog(logging.getLogger("test.outages"), clock=clock, settle_seconds=5)
    with caplog.at_level(logging.WARNING, "test.outages"):
        for _ in range(50):  # a lock held for a second, every other second
            outages.failed("database is locked")
            clock.now += 1
            outages.answered()
            clock.now += 1
    assert len(caplog.records) == 1
