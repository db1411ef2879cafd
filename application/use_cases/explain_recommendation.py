"""ExplainRecommendation: why (not) this course for this learner, per strategy and per rule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from application.ports import UnitOfWork
from application.ranking import RankingPolicy, rerank
from application.strategies import StrategyRegistry
from domain.errors import InvalidStrategy, UnknownCourse
from domain.model import CourseId, UserId


@dataclass(frozen=True, slots=True)
class ExplainQuery:
    user_id: UserId
    course_id: CourseId
    strategy: str | None = None
    strict_prerequisites: bool = False


class ExplainRecommendation:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        strategies: StrategyRegistry,
        policy: RankingPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.uow_factory = uow_factory
        self.strategies = strategies
        self.policy = policy or RankingPolicy()
        self.clock = clock

    def execute(self, query: ExplainQuery) -> dict[str, Any]:
        snapshot = self.strategies.snapshot_knowing(query.course_id)
        course = snapshot.courses.get(query.course_id)
        if course is None:
            raise UnknownCourse(query.course_id)
        if query.strategy and query.strategy not in snapshot.recommenders:
            not_for = "explanations" if query.strategy in self.strategies.names else ""
            raise InvalidStrategy(query.strategy, sorted(snapshot.recommenders), not_for)
        names = [query.strategy] if query.strategy else sorted(snapshot.recommenders)
        with self.uow_factory() as uow:
            history = uow.interactions.history(query.user_id)
        removed = []
        strongest = history.strongest().get(course.course_id)
        if strongest is not None and strongest.takes_the_course:
            removed.append(f"removed: the learner {strongest.past_tense} it")
        if not course.active:
            removed.append("removed: the course is inactive")
        policy = replace(self.policy, strict_prerequisites=query.strict_prerequisites)
        everything = len(snapshot.courses)
        per_strategy = []
        for name in names:
            recommender = snapshot.recommenders.get(name)
            if recommender is None:
                continue
            entry: dict[str, Any] = {"strategy": name, "ready": recommender.ready}
            if recommender.ready and not (recommender.personalised and history.is_new):
                ranked = recommender.recommend(history, everything, explain=False)
                found = next((r for r in ranked if r.course_id == course.course_id), None)
                if found is not None:
                    found = recommender.explain(history, [found])[0]
                entry.update(
                    score=found.score if found else None,
                    rank=found.rank if found else None,
                    reason=found.reason if found else None,
                    candidates=len(ranked),
                )
                final = rerank(ranked, history, snapshot.courses, everything, policy, self.clock())
                entry["rules"] = final.rules.get(course.course_id, [])
                entry["final_rank"] = next(
                    (r.rank for r in final.items if r.course_id == course.course_id), None
                )
            else:
                entry["note"] = (
                    "no model loaded" if not recommender.ready else "the learner has no history"
                )
            per_strategy.append(entry)
        return {
            "user_id": query.user_id,
            "course_id": course.course_id,
            "title": course.title,
            "learner_events": len(history.events),
            "removed_by": removed,
            "strategies": per_strategy,
        }
