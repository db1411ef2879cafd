"""StoreDailyFigures: the trainer stores closed days' figures, so stats windows read days, not
events (a year's window counted from its events outgrew the request timeout); then, under
RS_LIST_RETENTION_DAYS, removes the lists of the stored days older than that."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from application.ports import UnitOfWork

log = logging.getLogger(__name__)

#: days failing in one cycle before it gives up: one day may be beyond storing (too many lists
#: to count within the statement timeout), several in a row say the database is in trouble
FAILURES_PER_CYCLE = 3


@dataclass(frozen=True, slots=True)
class Stored:
    days: int
    #: days still to store when the budget ran out: the next cycle goes on
    left: int
    #: the days that could not be stored, with why (counted from events until they can be)
    failed: list[tuple[date, str]] = field(default_factory=list)
    #: days older than the lists' retention whose lists were removed, and how many lists
    pruned_days: int = 0
    pruned_lists: int = 0
    #: the day whose lists could not be removed, with why (the next cycle tries again)
    prune_failed: tuple[date, str] | None = None


class StoreDailyFigures:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        budget_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        retention_days: int = 0,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self.uow_factory = uow_factory
        self.budget_seconds = budget_seconds
        self.clock = clock
        #: lists served more than this many days ago are removed once their day is stored (0: kept)
        self.retention_days = retention_days
        self.today = today

    def execute(self, last: Collection[date] = ()) -> Stored:
        """The days never stored first, then those changed since, each newest first, each in a
        unit of work of its own (a day's lists and events are read in milliseconds; a year's in
        one transaction would hold back vacuum and every writer's count of changes), until the
        budget is spent: after an upgrade, a long history is stored over several cycles, the
        windows the dashboard opens on first. A day that fails is passed over, so that it does
        not keep the older ones from being stored; `last`, the days that failed before, are
        tried after the others (first, two days timing out took every cycle's budget)."""
        started = self.clock()
        with self.uow_factory() as uow:
            days = uow.stats.days_to_store()
        days = [d for d in days if d not in last] + [d for d in days if d in last]
        stored, failed = 0, []
        for done, day in enumerate(days):
            if self.clock() - started >= self.budget_seconds:
                return self._prune(started, Stored(stored, len(days) - done, failed))
            try:
                with self.uow_factory() as uow:
                    uow.stats.store_day(day)
                    uow.commit()
            except Exception as error:
                log.warning("the stats figures of %s were not stored", day, exc_info=True)
                failed.append((day, first_line(error)))
                if len(failed) >= FAILURES_PER_CYCLE:
                    if stored == 0:
                        raise  # nothing stores: the trainer says why, as for any failure
                    return Stored(stored, len(days) - done - 1, failed)
                continue
            stored += 1
        return self._prune(started, Stored(stored, 0, failed))

    def _prune(self, started: float, stored: Stored) -> Stored:
        """Within what is left of the budget, and one day at least (late clicks re-changing
        the newest days at every cycle may take the whole budget, and the lists would never
        go): the lists of the days older than the retention whose figures are stored and
        current, oldest first, a day a unit of work (a day of a busy platform is thousands of
        lists). A day not stored yet waits for its store."""
        if not self.retention_days:
            return stored
        before = self.today() - timedelta(days=self.retention_days)
        with self.uow_factory() as uow:
            days = uow.stats.days_to_prune(before)
        pruned = lists = 0
        for day in days:
            if pruned and self.clock() - started >= self.budget_seconds:
                break
            try:
                with self.uow_factory() as uow:
                    lists += uow.stats.prune_day(day)
                    uow.commit()
            except Exception as error:  # the lists stay, the figures too: tried next cycle
                log.warning("the lists of %s were not removed", day, exc_info=True)
                failed = (day, first_line(error))
                return replace(stored, pruned_days=pruned, pruned_lists=lists, prune_failed=failed)
            pruned += 1
        return replace(stored, pruned_days=pruned, pruned_lists=lists)


def first_line(error: Exception) -> str:
    """The error in a line, not the SQL that follows a driver's message."""
    return f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0][:200]}"
