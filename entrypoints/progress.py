"""Progress of a long step: a bar on a terminal, a log line every few seconds otherwise.

    with Progress("training two_tower", total=epochs * members, unit="epochs") as progress:
        for ...:
            progress.advance(detail=f"loss {loss:.4f}")
        progress.total = done_so_far  # e.g. early stopping: the total can change at any time

Leaving the block marks the step finished: the last line shows the steps really done (so early
stopping ends at 100% of what ran), the elapsed time and the rate.
"""

from __future__ import annotations

import logging
import sys
from time import monotonic
from types import TracebackType
from typing import TextIO

log = logging.getLogger("recsys.progress")
BAR_WIDTH = 30


class Progress:
    def __init__(
        self,
        label: str,
        total: int | None = None,
        unit: str = "steps",
        every_seconds: float = 5.0,
        stream: TextIO | None = None,
        terminal: bool | None = None,
    ) -> None:
        self.label, self.unit, self.every = label, unit, every_seconds
        self.total = total
        self.done = 0
        self.detail = ""
        self.stream = stream or sys.stderr
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.terminal = isatty() if terminal is None else terminal
        self.started = self.last_line = monotonic()
        self.finished = False

    def __enter__(self) -> Progress:
        self.started = self.last_line = monotonic()
        if not self.terminal:
            log.info(
                "%s: started%s", self.label, f", {self.total} {self.unit}" if self.total else ""
            )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.finish(failed=error is not None)

    def advance(self, steps: int = 1, detail: str | None = None) -> None:
        self.update(self.done + steps, detail)

    def update(self, done: int, detail: str | None = None) -> None:
        self.done = done
        if detail is not None:
            self.detail = detail
        now = monotonic()
        if self.terminal:
            if now - self.last_line >= 0.1 or done == self.total:  # at most 10 redraws a second
                self.last_line = now
                self._draw()
        elif now - self.last_line >= self.every:
            self.last_line = now
            log.info("%s", self.line(), extra=self._fields())

    def finish(self, failed: bool = False) -> None:
        if self.finished:
            return
        self.finished = True
        early = self.total is not None and self.done < self.total and not failed
        if early or self.total is None:
            self.total = self.done  # what really ran: stopping early is not "unfinished"
        outcome = "failed" if failed else "done"
        if self.terminal:
            self._draw()
            self.stream.write(f"  {outcome} in {self.elapsed():.1f}s\n")
            self.stream.flush()
        else:
            log.info("%s: %s, %s", self.label, outcome, self.line(), extra=self._fields())

    def elapsed(self) -> float:
        return max(monotonic() - self.started, 1e-9)

    def rate(self) -> float:
        return self.done / self.elapsed()

    def line(self) -> str:
        """`12/300 epochs (4%), 0.8 epochs/s, eta 6m00s, loss 0.3`"""
        text = f"{self.done}/{self.total if self.total is not None else '?'} {self.unit}"
        if self.total:
            text += f" ({100 * self.done / self.total:.0f}%)"
        text += f", {self.rate():.3g} {self.unit}/s"
        if self.total and self.done and not self.finished and self.done < self.total:
            text += f", eta {_duration((self.total - self.done) / self.rate())}"
        return text + (f", {self.detail}" if self.detail else "")

    def _fields(self) -> dict[str, object]:
        return {
            "step": self.label,
            "done": self.done,
            "total": self.total,
            "unit": self.unit,
            "rate_per_second": round(self.rate(), 4),
            "elapsed_seconds": round(self.elapsed(), 3),
        }

    def _draw(self) -> None:
        share = min(1.0, self.done / self.total) if self.total else 0.0
        filled = int(share * BAR_WIDTH)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self.stream.write(f"\r\x1b[2K{self.label} [{bar}] {self.line()}")
        self.stream.flush()


class MemberEpochs:
    """Adapts training's `progress(epoch, epochs, loss, recall)`, called by each ensemble member in
    turn, to one Progress whose total shrinks when a member stops early."""

    def __init__(self, progress: Progress, members: int) -> None:
        self.progress, self.members_left = progress, members
        self.base = self.last_epoch = 0

    def __call__(self, epoch: int, epochs: int, loss: float, recall: float) -> None:
        if epoch <= self.last_epoch:  # the next member started: the previous one is done
            self.base, self.members_left = self.progress.done, max(1, self.members_left - 1)
        self.last_epoch = epoch
        self.progress.total = self.base + epochs * self.members_left
        self.progress.update(
            self.base + epoch, f"loss {loss:.4f}, validation recall@10 {recall:.4f}"
        )


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"
