"""EraseLearner: forget one learner everywhere we keep rows about them, in one transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from application.ports import Erasure, LatestErasure, UnitOfWork
from domain.model import UserId


def learner_hash(user_id: str) -> str:
    """What the erasure log keeps instead of the id: enough to answer "was X erased?"."""
    return hashlib.sha256(user_id.encode()).hexdigest()


def last_erased(uow: UnitOfWork, user_ids: Iterable[str]) -> dict[str, datetime]:
    """Learner id -> when they were last erased, for those of `user_ids` ever erased: one query
    for them all, each id hashed once."""
    if not uow.erasures.any():
        return {}
    hashes = {learner_hash(user): user for user in set(user_ids)}
    if not hashes:
        return {}
    return {hashes[h]: moment for h, moment in uow.erasures.erased(hashes).items()}


class EraseLearner:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        erased: Callable[[], None] = lambda: None,
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        #: called after each erasure commits (this process's slate recorder reads the mark anew)
        self.erased = erased

    def execute(self, user_id: UserId) -> Erasure:
        """Removes the learner's events, slates, impressions, statements and the attribution of
        other events to their slates; records the erasure. Models fitted afterwards read the
        events table, so they never see the learner again."""
        with self.uow_factory() as uow:
            # A learner's lists are most of what there is to remove (a year of lists, 600,000
            # courses shown, took 4 s), and no write waits for them: removed before the hold,
            # which every event write and recorded list waits for, so it covers only the rest.
            lists = uow.erasures.erase_lists(user_id)
            # events being logged now are stored first and removed here, or come after and are
            # checked against this erasure: none dated before it outlives it
            uow.erasures.hold(exclusive=True)
            counts = uow.erasures.erase(user_id)
            counts = {name: n + lists.get(name, 0) for name, n in counts.items()}
            erasure = Erasure(learner_hash(user_id), self.clock(), counts)
            uow.erasures.record(erasure)
            uow.commit()
        self.erased()
        return erasure

    def latest(self) -> LatestErasure | None:
        with self.uow_factory() as uow:
            return uow.erasures.latest()
