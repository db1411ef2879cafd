"""ComputeStats: click-through and popularity for one learner or the whole platform.

Definitions (also in the README): a recommendation is one served slate; an impression is one
course shown in it; a click or enrolment is attributed when it carries the slate's
recommendation_id; a slate's clicks are its impressions clicked (a course clicked twice is one),
so CTR = clicks / impressions lies in 0..1. Daily rows count slates by the UTC day they were
served, with the clicks and enrolments they earned whenever these came.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from application.ports import CoursePopularity, DailyStats, UnitOfWork, UserStats
from domain.model import UserId


def _ctr(clicks: int, impressions: int) -> float:
    return round(clicks / impressions, 6) if impressions else 0.0


@dataclass(frozen=True)
class DayTotals:
    date: str
    recommendations: int
    impressions: int
    clicks: int
    enrolls: int

    @property
    def ctr(self) -> float:
        return _ctr(self.clicks, self.impressions)


@dataclass(frozen=True)
class GlobalStats:
    days: int
    ctr: float
    most_popular_courses: list[CoursePopularity]
    strategy_distribution: dict[str, float]
    strategy_ctr: dict[str, float]
    daily: list[DayTotals]
    #: date -> strategy -> that day's lists, impressions, clicks and enrolments, for the
    #: dashboard's line chart and its table
    daily_by_strategy: dict[str, dict[str, DayTotals]] = field(default_factory=dict)

    @property
    def totals(self) -> DayTotals:
        """The whole window as one row."""
        return DayTotals(
            "all",
            sum(d.recommendations for d in self.daily),
            sum(d.impressions for d in self.daily),
            sum(d.clicks for d in self.daily),
            sum(d.enrolls for d in self.daily),
        )


class ComputeStats:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock

    def user(self, user_id: UserId) -> UserStats:
        with self.uow_factory() as uow:
            return uow.stats.user(user_id)

    def global_stats(self, days: int = 30, top: int = 10) -> GlobalStats:
        # Whole UTC days: today and the days - 1 before it, so no day is counted in part.
        today = self.clock().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        since = today - timedelta(days=days - 1)
        with self.uow_factory() as uow:
            rows = uow.stats.daily(since)
            popular = uow.stats.popular_courses(since, top)
        return summarise(days, rows, popular)


def summarise(days: int, rows: list[DailyStats], popular: list[CoursePopularity]) -> GlobalStats:
    per_day: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    per_strategy: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    by_day_strategy: dict[str, dict[str, list[int]]] = defaultdict(dict)
    for row in rows:
        totals = per_day[row.date]
        for i, value in enumerate((row.recommendations, row.impressions, row.clicks, row.enrolls)):
            totals[i] += value
        strategy = per_strategy[row.strategy]
        strategy[0] += row.recommendations
        strategy[1] += row.impressions
        strategy[2] += row.clicks
        counts = by_day_strategy[row.date].setdefault(row.strategy, [0, 0, 0, 0])
        for i, value in enumerate((row.recommendations, row.impressions, row.clicks, row.enrolls)):
            counts[i] += value
    slates = sum(s[0] for s in per_strategy.values())
    impressions = sum(s[1] for s in per_strategy.values())
    clicks = sum(s[2] for s in per_strategy.values())
    return GlobalStats(
        days=days,
        ctr=_ctr(clicks, impressions),
        most_popular_courses=popular,
        strategy_distribution={
            n: round(s[0] / slates, 6) for n, s in sorted(per_strategy.items()) if slates and s[0]
        },
        strategy_ctr={n: _ctr(s[2], s[1]) for n, s in sorted(per_strategy.items()) if s[1]},
        daily=[DayTotals(d, *t) for d, t in sorted(per_day.items())],
        daily_by_strategy={
            day: {name: DayTotals(day, *c) for name, c in sorted(per_strategy.items())}
            for day, per_strategy in sorted(by_day_strategy.items())
        },
    )
