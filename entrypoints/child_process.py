"""A child process kept running: `serve --with-trainer` restarts a trainer that exits."""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence


class KeptRunning:
    """Starts `command`, and starts it again `backoff` seconds later (doubling up to `longest`)
    whenever it fails (a non-zero status: a crash, the OOM killer) before `stop()`. Nothing else
    restarts the trainer beside a one-host server, which would otherwise go on answering from
    models nobody refits."""

    def __init__(
        self,
        command: Sequence[str],
        name: str,
        backoff: float = 1.0,
        longest: float = 60.0,
        log: logging.Logger | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.command, self.name, self.env = list(command), name, env
        #: the server's own log (under gunicorn, its master logs through "gunicorn.error")
        self.log = log or logging.getLogger(__name__)
        self.backoff, self.longest = backoff, longest
        self.starts = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._process = self._start()
        self._watcher = threading.Thread(target=self._watch, name=f"{name}-watcher", daemon=True)
        self._watcher.start()

    def _start(self) -> subprocess.Popen[bytes]:
        self.starts += 1
        return subprocess.Popen(self.command, env=self.env)

    def _watch(self) -> None:
        delay = self.backoff
        while True:
            started = time.monotonic()
            code = self._process.wait()
            if code == 0 or self._stopping.is_set():
                return  # it was told to stop (Ctrl-C reaches the whole process group)
            if time.monotonic() - started > self.longest:
                delay = self.backoff  # it had been running: a new failure, not the same one
            self.log.warning(
                "the %s exited with status %s; starting it again in %gs", self.name, code, delay
            )
            if self._stopping.wait(delay):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self._process = self._start()
            delay = min(self.longest, delay * 2)

    @property
    def status(self) -> int | None:
        """The running process's exit status, None while it runs."""
        return self._process.poll()

    def stop(self, timeout: float = 30.0) -> None:
        """Terminates it (it leaves at once, dropping a fit in progress), killing it after
        `timeout` seconds; it is not started again."""
        with self._lock:
            self._stopping.set()
            process = self._process
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
