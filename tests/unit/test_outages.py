"""The database watchdog and the outage log, on their own."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

import pytest

from adapters.sqlalchemy.breaker import Breaker
from adapters.sqlalchemy.watchdog import Watchdog
from application.ports import StorageUnavailable
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


def test_a_number_armed_by_a_connection_since_closed_is_not_cut_in_its_new_owner():
    """The kernel gives a closed connection's fd number to the next one opened: a deadline
    left by a statement that failed on a closed connection cut an unrelated connection later
    ("server closed the connection unexpectedly" in a test that never touched the first)."""

    class Driver:  # what the driver says of the first connection: closed
        closed = True

    reused, peer = socket.socketpair()
    with reused, peer:
        watchdog = Watchdog(tick_seconds=0.02)
        watchdog.arm(reused.fileno(), 0.05, Driver())
        failed = Driver()
        watchdog.arm(peer.fileno(), 0.05, failed)
        watchdog.forget(failed)  # a failed statement's deadline goes with it
        time.sleep(0.2)
        peer.sendall(b"x")
        assert reused.recv(1) == b"x" and watchdog.cut == 0


def test_a_forked_child_cuts_its_own_sockets_past_their_deadline():
    """gunicorn forks its workers from a master that may have used the database: a child has
    none of its parent's threads, and the watchdog is one a process."""
    watchdog = Watchdog(tick_seconds=0.02)
    ours, silent_peer = socket.socketpair()
    with ours, silent_peer:
        watchdog.arm(ours.fileno(), 0.01)  # the parent's thread, started
        ours.settimeout(10)
        assert ours.recv(1) == b"" and watchdog.cut == 1
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's verdict is its exit code
        code = 1
        try:
            theirs, their_peer = socket.socketpair()
            watchdog.arm(theirs.fileno(), 0.1)
            theirs.settimeout(10)
            code = 0 if theirs.recv(1) == b"" else 2
        finally:
            os._exit(code)
    assert os.waitpid(child, 0)[1] == 0, "the child's socket was never cut"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_outage_is_one_line_however_long_and_one_more_when_it_is_over(caplog):
    clock = Clock()
    outages = OutageLog(logging.getLogger("test.outages"), quiet_seconds=30, clock=clock)
    with caplog.at_level(logging.WARNING, "test.outages"):
        outages.answered()  # no outage: nothing to say
        for _ in range(100):
            outages.failed("connection refused")
            clock.now += 1
        clock.now += 60  # no traffic, then a request that fails again: the same outage
        outages.failed("connection refused")
        clock.now += 10
        outages.answered()  # 10 s after the last failure: perhaps a lucky request
        clock.now += 25
        outages.answered()
        outages.answered()
        clock.now += 1
        outages.failed("connection refused")  # a new outage gets its own line at once
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3, lines
    assert lines[0].startswith("database unavailable") and "connection refused" in lines[0]
    assert lines[1] == (
        "database back: answering, and no failure for 30 s (101 requests answered 503 over 160 s)"
    )
    assert lines[2].startswith("database unavailable")


def test_a_database_failing_and_answering_in_turn_is_one_outage_not_a_line_each(caplog):
    clock = Clock()
    outages = OutageLog(logging.getLogger("test.outages"), quiet_seconds=30, clock=clock)
    with caplog.at_level(logging.WARNING, "test.outages"):
        for _ in range(50):  # a lock held now and then: a failure every 19 s, answers between
            outages.failed("database is locked")
            for _ in range(19):
                clock.now += 1
                outages.answered()
        clock.now += 20
        outages.answered()
    lines = [r.getMessage() for r in caplog.records]
    # one outage: its start, "still failing" every five minutes, its end; not 50 lines, or 100
    assert [line.split(":")[0].split(",")[0] for line in lines] == [
        "database unavailable",
        *["database still failing"] * 3,
        "database back",
    ], lines
    assert "(50 requests answered 503 over 931 s)" in lines[-1]


def test_a_long_outage_says_every_five_minutes_that_it_goes_on_and_why(caplog):
    clock = Clock()
    outages = OutageLog(logging.getLogger("test.outages"), clock=clock)
    with caplog.at_level(logging.WARNING, "test.outages"):
        for minute in range(12):  # a slow query every 20 s for 12 minutes, then a new cause
            for _ in range(3):
                outages.failed("QueryCanceled" if minute < 6 else "password authentication failed")
                clock.now += 20
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3, lines
    assert lines[1] == (
        "database still failing: 16 requests answered 503 over 300 s; latest: QueryCanceled"
    )
    assert lines[2].endswith("over 600 s; latest: password authentication failed")


def test_one_failure_alone_does_not_open_the_breaker():
    """A connection reset, or one lock wait too long: a window of 503s would cost more."""
    clock = Clock()
    breaker = Breaker(window=3, clock=clock)
    breaker.admit()
    breaker.failed("OperationalError: server closed the connection unexpectedly")
    clock.now += 1
    after = breaker.admit()  # still tried
    breaker.succeeded(after)
    clock.now += 1
    breaker.failed("OperationalError: server closed the connection unexpectedly")
    breaker.admit()  # a success came between: this is another blip, not an outage


def test_after_a_second_failure_the_breaker_refuses_at_once_then_lets_one_try_after_its_window():
    clock = Clock()
    breaker = Breaker(window=3, clock=clock)
    breaker.admit()
    breaker.failed("OperationalError: database is locked")
    breaker.admit()
    breaker.failed("OperationalError: database is locked")
    clock.now += 1
    with pytest.raises(StorageUnavailable, match="database is locked.*1.0s ago"):
        breaker.admit()
    clock.now += 2
    probe = breaker.admit()  # the window is over: one request tries
    with pytest.raises(StorageUnavailable):
        breaker.admit()  # the others do not, while it tries
    breaker.succeeded(probe)
    breaker.admit()  # closed
    breaker.admit()


def test_a_unit_of_work_begun_before_the_failure_does_not_close_the_breaker():
    clock = Clock()
    breaker = Breaker(window=3, clock=clock)
    before = breaker.admit()
    clock.now += 1
    breaker.failed("database is locked")
    breaker.failed("database is locked")
    breaker.succeeded(before)  # a read that SQLite allowed during the write lock
    with pytest.raises(StorageUnavailable):
        breaker.admit()
    clock.now += 3
    probe = breaker.admit()
    clock.now += 1
    breaker.failed("database is locked")  # the probe waited and failed: another window
    breaker.succeeded(probe)  # (what another unit of work admitted with it would say)
    with pytest.raises(StorageUnavailable):
        breaker.admit()


def test_after_a_lock_only_a_unit_of_work_that_wrote_shows_the_lock_is_gone():
    """SQLite answers reads while another connection holds the write lock: reads between the
    failed writes must not make each write failure "the first" again."""
    clock = Clock()
    breaker = Breaker(window=3, clock=clock)
    breaker.failed("OperationalError: database is locked", lock=True)
    clock.now += 0.5
    breaker.succeeded(breaker.admit(), wrote=False)  # a read got through
    breaker.failed("OperationalError: database is locked", lock=True)
    with pytest.raises(StorageUnavailable):
        breaker.admit()  # open: the second write failure counted
    clock.now += 3
    breaker.succeeded(breaker.admit(), wrote=True)  # the lock is gone: a write committed
    breaker.admit()
    breaker.failed("OperationalError: server closed the connection unexpectedly")
    breaker.succeeded(breaker.admit(), wrote=False)  # after a lost connection any answer counts
    breaker.failed("OperationalError: server closed the connection unexpectedly")
    breaker.admit()


def _locked_open(breaker: Breaker) -> None:
    """Two writes kept waiting by a write lock: open, with reads still answered."""
    for _ in range(2):
        breaker.admit()
        breaker.failed("OperationalError: database is locked", lock=True)


def test_while_a_write_lock_holds_reads_go_through_and_a_try_spent_on_reads_passes_to_the_next():
    """A worker's reads take the one try of each window first, and prove nothing of the lock:
    under a steady read load, writes never tried again and every request answered 503 long
    after the lock was gone (a review, 2026-12-01)."""
    clock = Clock()
    breaker = Breaker(window=3, clock=clock)
    _locked_open(breaker)
    breaker.succeeded(breaker.admit(read_only=True), wrote=False)  # reads alone: answered
    with pytest.raises(StorageUnavailable):
        breaker.admit()  # a unit that may write waits for the window
    clock.now += 3
    spent = breaker.admit()  # the try, taken by a unit that read and wrote nothing
    with pytest.raises(StorageUnavailable):
        breaker.admit()  # meanwhile, no other
    breaker.succeeded(spent, wrote=False)
    write = breaker.admit()  # at once, not a window later
    breaker.succeeded(write, wrote=True)
    breaker.admit()  # the lock is gone: closed
    breaker.admit()


def test_reads_kept_waiting_by_a_lock_make_it_an_outage_for_reads_too():
    """A SQLite file outside WAL mode (a file system without shared memory), where a writer's
    lock keeps readers out: reads wait as writes do, so they too are answered at once until a
    unit of work succeeds. (PostgreSQL reports a lock wait past its timeout as the statement's
    timeout, which counts as no failure at all.)"""
    clock = Clock()
    breaker = Breaker(window=3, clock=clock)
    _locked_open(breaker)
    breaker.admit(read_only=True)
    breaker.failed("OperationalError: database is locked", lock=True)
    with pytest.raises(StorageUnavailable):
        breaker.admit(read_only=True)
    clock.now += 3
    breaker.succeeded(breaker.admit(read_only=True), wrote=False)  # reads are answered again
    breaker.admit()


def test_failures_that_each_wait_longer_than_two_windows_still_open_the_breaker():
    """A frozen PostgreSQL under RS_DB_TIMEOUT_SECONDS=1: libpq waits 2 s at least to connect, so
    one thread's failures ended 4 s apart, never within two windows, and every request waited."""
    clock = Clock()
    breaker = Breaker(window=1, clock=clock)
    for _ in range(2):
        breaker.admit()
        clock.now += 4
        breaker.failed("ConnectionTimeout: connection timeout expired")
    with pytest.raises(StorageUnavailable):
        breaker.admit()


def test_a_failure_outside_a_unit_of_work_long_after_this_threads_last_unit_is_not_a_second():
    """A thread's last unit of work (the models' refresh reads versions, then loads files on
    connections of its own) left its start behind: a failure there 1,000 s later counted as
    begun before another thread's blip, and two failures far apart opened the breaker."""
    clock = Clock()
    breaker = Breaker(window=3, clock=clock)
    breaker.succeeded(breaker.admit(), wrote=False)
    clock.now += 1
    other = threading.Thread(target=breaker.failed, args=("OperationalError: reset",))
    other.start()
    other.join()
    clock.now += 999
    breaker.failed("OperationalError: server closed the connection unexpectedly")
    breaker.admit()  # one failure since 999 s: still tried
