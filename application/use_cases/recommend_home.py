"""RecommendHome: a learner's home-page slate from one strategy, recorded for attribution."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from application.ports import UnitOfWork
from application.strategies import Snapshot, StrategyRegistry
from domain.model import Course, CourseId, Level, Recommendation, RecommendationId, Slate, UserId

FALLBACK = "popularity"


@dataclass(frozen=True, slots=True)
class RecommendHomeQuery:
    user_id: UserId
    k: int = 10
    strategy: str | None = None
    category: str | None = None
    level: Level | None = None


@dataclass(frozen=True, slots=True)
class ServedItem:
    course: Course
    recommendation: Recommendation


@dataclass(frozen=True, slots=True)
class HomeResult:
    slate: Slate
    items: tuple[ServedItem, ...]


class RecommendHome:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        strategies: StrategyRegistry,
        default_strategy: str = FALLBACK,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.uow_factory = uow_factory
        self.strategies = strategies
        self.default_strategy = default_strategy
        self.clock = clock

    def execute(self, query: RecommendHomeQuery) -> HomeResult:
        requested = (
            self.strategies.validate(query.strategy) if query.strategy else self.default_strategy
        )
        snapshot = self.strategies.snapshot()
        with self.uow_factory() as uow:
            history = uow.interactions.history(query.user_id)
            exclude = history.taken() | snapshot.inactive() | _filtered_out(snapshot, query)
            name = requested
            recommender = snapshot.recommenders.get(name)
            items: list[Recommendation] = []
            if (
                recommender is not None
                and recommender.ready
                and not (recommender.personalised and history.is_new)
            ):
                items = recommender.recommend(history, query.k, exclude)
            if not items and name != FALLBACK:
                # Unknown learners, untrained models and exhausted strategies get popular courses.
                name = FALLBACK
                items = snapshot.recommenders[FALLBACK].recommend(history, query.k, exclude)
            answering = snapshot.recommenders.get(name)
            slate = Slate(
                recommendation_id=RecommendationId(uuid.uuid4().hex),
                user_id=query.user_id,
                strategy=name,
                items=tuple(items),
                served_at=self.clock(),
                model_version=answering.model_version if answering else None,
                fallback_from=requested if name != requested else None,
            )
            uow.slates.add(slate)
            uow.commit()
        return HomeResult(slate, tuple(ServedItem(snapshot.courses[r.course_id], r) for r in items))


def _filtered_out(snapshot: Snapshot, query: RecommendHomeQuery) -> frozenset[CourseId]:
    if query.category is None and query.level is None:
        return frozenset()
    return frozenset(
        course_id
        for course_id, course in snapshot.courses.items()
        if (query.category is not None and course.category.lower() != query.category.lower())
        or (query.level is not None and course.level is not query.level)
    )
