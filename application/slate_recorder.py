"""Recording served slates: requests that arrive together share one transaction (group commit)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from application.ports import StorageUnavailable, UnitOfWork
from application.use_cases.erase_learner import last_erased
from domain.model import Slate


class ErasedMeanwhile(Exception):
    """The learner was erased after the history this slate was made of had been read: storing it
    would keep what the erasure said it removed (the list, its reasons, their id)."""


class _Pending:
    __slots__ = ("slate", "erased_when_read", "done", "error")

    def __init__(self, slate: Slate, erased_when_read: datetime | None) -> None:
        self.slate = slate
        self.erased_when_read = erased_when_read
        self.done = False
        self.error: BaseException | None = None


class SlateRecorder:
    """`record(slate)` returns once the slate is committed, or raises what the commit raised.

    One thread writes at a time. The slates that arrive while it writes wait, then the first of
    them writes them all in one transaction: one commit, and one turn at SQLite's single writer
    lock, for several requests. Nothing is acknowledged before it is stored, so an event that
    names the recommendation id right after the answer finds it. One process-wide instance.

    A slate is stored only if its learner's last erasure is still the one seen when their history
    was read (`erased_when_read`, from `erased_at`): an erasure under way waits for the write, or
    the write comes after it and leaves the slate out (ErasedMeanwhile).
    """

    def __init__(self, uow_factory: Callable[[], UnitOfWork]) -> None:
        self.uow_factory = uow_factory
        self._queued: list[_Pending] = []
        self._queue_lock = threading.Lock()
        self._writer = threading.Lock()

    def record(self, slate: Slate, erased_when_read: datetime | None = None) -> None:
        pending = _Pending(slate, erased_when_read)
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
                erased = last_erased(uow, {p.slate.user_id for p in batch})
                for pending in batch:
                    if erased.get(pending.slate.user_id) != pending.erased_when_read:
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
