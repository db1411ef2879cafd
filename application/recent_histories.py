"""The learners' histories a process read last, for the lists it answers while the database does
not: a degraded list then still leaves out what the learner took."""

from __future__ import annotations

import threading
from collections import OrderedDict

from domain.model import LearnerHistory, UserId

#: events held in all, about 30 MB (23 MB measured without the ids read with them): the
#: latest few thousand learners of a worker
MAX_EVENTS = 100_000


class RecentHistories:
    """The latest histories read, least recently used first out, as long as no learner was
    erased since: `era` is what the process knows of erasures (the erasure mark it read, and
    those it made itself), and histories read in another era are forgotten, all of them, so an
    erased learner's are never used again (nor kept longer than the process takes to learn of
    the erasure, as the lists it records)."""

    def __init__(self, max_events: int = MAX_EVENTS) -> None:
        self.max_events = max_events
        self._held: OrderedDict[UserId, LearnerHistory] = OrderedDict()
        self._events = 0
        self._era: object = None
        self._lock = threading.Lock()

    def keep(self, history: LearnerHistory, era: object) -> None:
        with self._lock:
            self._enter(era)
            old = self._held.pop(history.user_id, None)
            self._events -= len(old.events) if old is not None else 0
            if history.is_new or len(history.events) > self.max_events:
                return
            self._held[history.user_id] = history
            self._events += len(history.events)
            while self._events > self.max_events:
                _, dropped = self._held.popitem(last=False)
                self._events -= len(dropped.events)

    def recall(self, user_id: UserId, era: object) -> LearnerHistory | None:
        """The history last read of `user_id` in this era, if still held."""
        with self._lock:
            self._enter(era)
            history = self._held.get(user_id)
            if history is not None:
                self._held.move_to_end(user_id)
            return history

    def _enter(self, era: object) -> None:
        if era != self._era:
            self._held.clear()
            self._events = 0
            self._era = era
