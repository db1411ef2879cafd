"""serve --with-trainer keeps its trainer running."""

from __future__ import annotations

import sys
import time

from entrypoints.child_process import KeptRunning


def _until(condition, seconds: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_trainer_that_crashes_is_started_again_and_says_so(tmp_path, caplog):
    runs = tmp_path / "runs"
    crash = f"open({str(runs)!r}, 'a').write('x'); raise SystemExit(3)"
    child = KeptRunning([sys.executable, "-c", crash], "trainer", backoff=0.01, longest=0.02)
    try:
        assert _until(lambda: runs.exists() and len(runs.read_text()) >= 3)
    finally:
        child.stop()
    assert "the trainer exited with status 3; starting it again" in caplog.text


def test_a_trainer_told_to_stop_is_not_started_again(tmp_path):
    """Ctrl-C reaches the whole process group: the trainer leaves with status 0, and so it
    stays stopped while the server shuts down."""
    runs = tmp_path / "runs"
    child = KeptRunning(
        [sys.executable, "-c", f"open({str(runs)!r}, 'a').write('x')"], "trainer", backoff=0.01
    )
    assert _until(lambda: runs.exists() and child.status == 0)
    time.sleep(0.2)  # twenty backoffs: time enough to have started it again
    child.stop()
    assert runs.read_text() == "x" and child.starts == 1


def test_a_stopped_trainer_is_terminated_and_not_started_again():
    child = KeptRunning([sys.executable, "-c", "import time; time.sleep(60)"], "trainer")
    child.stop(timeout=10)
    assert child.status is not None
    time.sleep(0.1)
    assert child.starts == 1
