"""Recording served slates: requests that arrive together share one transaction (group commit)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from application.ports import StorageUnavailable, UnitOfWork
from application.use_cases.erase_learner import learner_hash
from domain.model import Slate

#: how long a process reuses the erasure mark it read: a learner erased within it who comes back
#: is served lists without an id (not recorded) for that long
MARK_SECONDS = 10.0


class ErasedMeanwhile(Exception):
    """The learner was erased after the history this slate was made of had been read: storing it
    would keep what the erasure said it removed (the list, its reasons, their id)."""


class _Pending:
    __slots__ = ("slate", "mark", "done", "error")

    def __init__(self, slate: Slate, mark: int) -> None:
        self.slate = slate
        self.mark = mark
        self.done = False
        self.error: BaseException | None = None


class SlateRecorder:
    """`record(slate)` returns once the slate is committed, or raises what the commit raised.

    One thread writes at a time. The slates that arrive while it writes wait, then the first of
    them writes them all in one transaction: one commit, and one turn at SQLite's single writer
    lock, for several requests. Nothing is acknowledged before it is stored, so an event that
    names the recommendation id right after the answer finds it. One process-wide instance.

    A slate made of a history read before its learner was erased is not stored after the erasure
    (which said their lists were gone): `mark(uow)`, called before the history is read, gives the
    erasure mark to pass to `record`, which leaves the slate out (ErasedMeanwhile) if the learner
    was erased after it. The write holds off erasures until it commits. The mark is read from the
    database at most every `mark_seconds`, and after an erasure in this process: any mark read
    before the history will do, and an older one only leaves out the lists of learners erased
    since on another host, who came back to this one within that time.
    """

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        mark_seconds: float = MARK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.uow_factory = uow_factory
        self.mark_seconds = mark_seconds
        self.clock = clock
        self._queued: list[_Pending] = []
        self._queue_lock = threading.Lock()
        self._writer = threading.Lock()
        self._mark: tuple[float, int] | None = None  # (read at, mark)
        #: erasures this process committed: a mark read across one of them is not kept
        self._erasures = 0
        self._mark_lock = threading.Lock()

    def mark(self, uow: UnitOfWork) -> int:
        """The erasure mark for a history about to be read in `uow`."""
        known = self._mark
        if known is None or self.clock() - known[0] >= self.mark_seconds:
            read_at, erasures = self.clock(), self._erasures
            known = (read_at, uow.erasures.mark())
            with self._mark_lock:  # an erasure of ours since, the read may predate it: not kept
                # nor an older mark: a read that began later may have been answered before
                # another host's erasure committed, and one begun earlier after it (marks only
                # grow, as erasures are never removed)
                newest = self._mark is None or (known[1], read_at) >= (self._mark[1], self._mark[0])
                if erasures == self._erasures and newest:
                    self._mark = known
        return known[1]

    def era(self) -> object:
        """What this process knows of erasures (the mark it read, and those it made itself):
        histories read in another era may hold a learner erased since."""
        known = self._mark
        return (self._erasures, known[1] if known is not None else None)

    def forget_mark(self) -> None:
        """An erasure committed in this process: lists served from now on read the mark anew, so
        a learner coming back to this process is not taken for one erased meanwhile."""
        with self._mark_lock:
            self._erasures += 1
            self._mark = None

    def record(self, slate: Slate, mark: int) -> None:
        pending = _Pending(slate, mark)
        with self._queue_lock:
            self._queued.append(pending)
        with self._writer:
            if not pending.done:  # else an earlier writer took it along
                with self._queue_lock:
                    batch, self._queued = self._queued, []
                self._write(batch)
        if pending.error is not None:
            if isinstance(pending.error, StorageUnavailable):
                raise StorageUnavailable(str(pending.error)) from pending.error
            raise pending.error

    def _write(self, batch: list[_Pending]) -> None:
        # Whatever stops this write (even an interrupt) must not leave a waiter acknowledged.
        error: BaseException | None = StorageUnavailable("the slate was not recorded")
        try:
            with self.uow_factory() as uow:
                uow.erasures.hold()
                hashes = {p.slate.user_id: learner_hash(p.slate.user_id) for p in batch}
                erased = uow.erasures.erased_after(set(hashes.values()), min(p.mark for p in batch))
                for pending in batch:
                    if erased.get(hashes[pending.slate.user_id], 0) > pending.mark:
                        pending.error, pending.done = ErasedMeanwhile(pending.slate.user_id), True
                    else:
                        uow.slates.add(pending.slate)
                uow.commit()
            error = None
        except StorageUnavailable as unavailable:
            error = unavailable
        except Exception as failed:
            if len(batch) == 1:
                error = failed
            else:  # one slate's fault (say, a course deleted meanwhile) stays its own
                for pending in batch:
                    self._write([pending])
        finally:
            for pending in batch:
                if not pending.done:
                    pending.error, pending.done = error, True
