"""Popularity: event counts weighted by type, decayed by age (half-life in days)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from adapters.ranking_math import top_k
from domain.errors import UnknownCourse
from domain.model import (
    DEFAULT_EVENT_WEIGHTS,
    Course,
    CourseId,
    EventType,
    Interaction,
    LearnerHistory,
    Recommendation,
)
from domain.ports import Recommender


class PopularityRecommender(Recommender):
    name = "popularity"
    personalised = False

    def __init__(
        self,
        half_life_days: float | None = 30.0,
        event_weights: Mapping[EventType, float] = DEFAULT_EVENT_WEIGHTS,
    ) -> None:
        self.half_life_days = half_life_days or None
        self.event_weights = dict(event_weights)
        self.courses: list[Course] = []
        self.index: dict[CourseId, int] = {}
        self.scores = np.zeros(0)

    def fit(self, courses: Sequence[Course], interactions: Sequence[Interaction]) -> None:
        self.courses = list(courses)
        self.index = {c.course_id: i for i, c in enumerate(self.courses)}
        scores = np.zeros(len(self.courses))
        known = [e for e in interactions if e.course_id in self.index]
        if known:
            rows = np.fromiter((self.index[e.course_id] for e in known), dtype=np.int64)
            weights = np.fromiter((self.event_weights[e.event_type] for e in known), dtype=float)
            if self.half_life_days:
                # Ages are measured from the newest event, so old data sets do not underflow.
                stamps = np.fromiter((e.occurred_at.timestamp() for e in known), dtype=float)
                age_days = (stamps.max() - stamps) / 86_400.0
                weights = weights * np.exp2(-age_days / self.half_life_days)
            np.add.at(scores, rows, weights)
        self.scores = scores

    @property
    def period(self) -> str:
        if self.half_life_days is None:
            return ""
        return (
            " this week"
            if self.half_life_days <= 10
            else " this month"
            if self.half_life_days <= 45
            else " lately"
        )

    def _ranked(self, scores: np.ndarray, k: int, exclude: frozenset[CourseId]) -> list[int]:
        mask = np.fromiter(
            (c.course_id in exclude for c in self.courses), dtype=bool, count=len(self.courses)
        )
        return top_k(np.where(mask, -np.inf, scores), k)

    def recommend(
        self, learner: LearnerHistory, k: int, exclude: frozenset[CourseId] = frozenset()
    ) -> list[Recommendation]:
        return [
            Recommendation(
                self.courses[i].course_id,
                float(self.scores[i]),
                rank,
                self.name,
                f"Popular in {self.courses[i].category or 'our catalog'}{self.period}",
            )
            for rank, i in enumerate(self._ranked(self.scores, k, exclude), start=1)
        ]

    def similar(
        self, course_id: CourseId, k: int, exclude: frozenset[CourseId] = frozenset()
    ) -> list[Recommendation]:
        if course_id not in self.index:
            raise UnknownCourse(course_id)
        course = self.courses[self.index[course_id]]
        same = np.fromiter((c.category == course.category for c in self.courses), dtype=bool)
        # Same category first, then the rest of the catalog by popularity.
        scores = self.scores + np.where(same, self.scores.max() + 1.0, 0.0)
        ranked = self._ranked(scores, k, exclude | {course_id})
        return [
            Recommendation(
                self.courses[i].course_id,
                float(self.scores[i]),
                rank,
                self.name,
                f"Popular in {course.category}{self.period}, like {course.title}"
                if same[i]
                else f"Popular{self.period}",
            )
            for rank, i in enumerate(ranked, start=1)
        ]
