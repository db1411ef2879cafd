"""StoreDailyFigures: the trainer stores closed days' figures, so stats windows read days, not
events (a year's window counted from its events outgrew the request timeout)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from application.ports import UnitOfWork


@dataclass(frozen=True, slots=True)
class Stored:
    days: int
    #: days still to store when the budget ran out: the next cycle goes on
    left: int


class StoreDailyFigures:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        budget_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.uow_factory = uow_factory
        self.budget_seconds = budget_seconds
        self.clock = clock

    def execute(self) -> Stored:
        """Newest day first, each in a unit of work of its own (a day's lists and events are read
        in milliseconds; a year's in one transaction would hold back vacuum and every writer's
        count of changes), until the budget is spent: after an upgrade, a long history is stored
        over several cycles, the windows the dashboard opens on first."""
        started = self.clock()
        with self.uow_factory() as uow:
            days = uow.stats.days_to_store()
        for done, day in enumerate(days):
            if self.clock() - started >= self.budget_seconds:
                return Stored(done, len(days) - done)
            with self.uow_factory() as uow:
                uow.stats.store_day(day)
                uow.commit()
        return Stored(len(days), 0)
