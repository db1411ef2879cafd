"""Waiting for what a test started: servers, trainers, threads.

CI's machine is shared with other work: a run of the suite that takes 5 minutes on a quiet box
took 55 there, and a trainer's shutdown or a server's start took over ten times as long. Each
wait here ends as soon as what it waits for happens, so its generous limit costs nothing when
all is well; it only bounds how long a broken test hangs. A process a test started is always
gone when the test ends: one left running fails a later test with a ResourceWarning.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

#: seconds any one wait may take before the test fails
PATIENCE = 300.0

T = TypeVar("T")


def eventually(check: Callable[[], T], what: str, seconds: float = PATIENCE) -> T:
    """What `check` returns once it is truthy; fails the test if it is not within `seconds`."""
    deadline = time.monotonic() + seconds
    while not (found := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"not within {seconds:g} s: {what}")
        time.sleep(0.2)
    return found


def stopped(process: subprocess.Popen, how: int = signal.SIGTERM) -> int:  # type: ignore[type-arg]
    """Sends `how` (unless it has left already) and returns the exit code once it has left."""
    return all_stopped([process], how)[0]


def all_stopped(processes: list[subprocess.Popen], how: int = signal.SIGTERM) -> list[int]:  # type: ignore[type-arg]
    """Sends `how` to each still running, then waits for them all: their exit codes. Those still
    running after PATIENCE are killed and waited for, which fails the test."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(how)
    deadline = time.monotonic() + PATIENCE
    codes, late = [], []
    for process in processes:
        try:
            codes.append(process.wait(timeout=max(0.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            process.kill()
            codes.append(process.wait())
            late.append(process.args)
    if late:
        pytest.fail(f"still running {PATIENCE:g} s after signal {how}: {late}")
    return codes
