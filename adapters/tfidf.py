"""Content-based: TF-IDF over course text; learner profile = event-weighted mean of course vectors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

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

_VERB = {
    EventType.VIEW: "viewed",
    EventType.CLICK: "looked at",
    EventType.ENROLL: "enrolled in",
    EventType.COMPLETE: "completed",
}


class ContentRecommender(Recommender):
    name = "content"

    def __init__(self, event_weights: Mapping[EventType, float] = DEFAULT_EVENT_WEIGHTS) -> None:
        self.event_weights = dict(event_weights)
        self.courses: list[Course] = []
        self.index: dict[CourseId, int] = {}

    def fit(self, courses: Sequence[Course], interactions: Sequence[Interaction]) -> None:
        self.courses = list(courses)
        self.index = {c.course_id: i for i, c in enumerate(self.courses)}
        if not self.courses:
            self.vectors = np.zeros((0, 0))
            return
        vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True, min_df=1)
        # Rows are L2-normalised, so a dot product is the cosine similarity.
        self.vectors = vectorizer.fit_transform([c.text() for c in self.courses]).tocsr()

    def _allowed(self, scores: np.ndarray, exclude: frozenset[CourseId]) -> np.ndarray:
        """Scores with excluded and unrelated (zero similarity) courses taken out."""
        mask = np.fromiter(
            (c.course_id in exclude for c in self.courses), dtype=bool, count=len(self.courses)
        )
        return np.where(mask | (scores <= 0), -np.inf, scores)

    def recommend(
        self, learner: LearnerHistory, k: int, exclude: frozenset[CourseId] = frozenset()
    ) -> list[Recommendation]:
        touched = {c: e for c, e in learner.strongest().items() if c in self.index}
        if not touched:
            return []
        rows = [self.index[c] for c in touched]
        weights = np.array([self.event_weights[e] for e in touched.values()])
        profile = np.asarray(self.vectors[rows].T @ weights).ravel() / weights.sum()
        scores = np.asarray(self.vectors @ profile).ravel()
        ranked = top_k(self._allowed(scores, exclude), k)
        if not ranked:
            return []
        # The reason names the learner's own course (other than the candidate) closest to it.
        closeness = (self.vectors[ranked] @ self.vectors[rows].T).toarray()
        own = list(touched.items())
        result = []
        for rank, (i, row) in enumerate(zip(ranked, closeness, strict=True), start=1):
            candidate = self.courses[i].course_id
            row[[j for j, (c, _) in enumerate(own) if c == candidate]] = -np.inf
            best = int(np.argmax(row))
            if row[best] > 0:
                course_id, event = own[best]
                reason = f"Similar to {self.courses[self.index[course_id]].title}, which you {_VERB[event]}"
            else:
                reason = f"You {_VERB[touched[candidate]]} this course before"
            result.append(Recommendation(candidate, float(scores[i]), rank, self.name, reason))
        return result

    def similar(
        self, course_id: CourseId, k: int, exclude: frozenset[CourseId] = frozenset()
    ) -> list[Recommendation]:
        if course_id not in self.index:
            raise UnknownCourse(course_id)
        source = self.courses[self.index[course_id]]
        scores = np.asarray(
            (self.vectors @ self.vectors[self.index[course_id]].T).toarray()
        ).ravel()
        ranked = top_k(self._allowed(scores, exclude | {course_id}), k)
        return [
            Recommendation(
                self.courses[i].course_id,
                float(scores[i]),
                rank,
                self.name,
                f"Similar to {source.title}",
            )
            for rank, i in enumerate(ranked, start=1)
        ]
