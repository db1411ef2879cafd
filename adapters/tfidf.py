"""Content-based: TF-IDF over course text; learner profile = event-weighted mean of course vectors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import sparse

from adapters.arrays import csr, csr_files, ids, ids_file
from adapters.scoring import ScoringRecommender
from domain.model import (
    DEFAULT_EVENT_WEIGHTS,
    Course,
    CourseId,
    EventType,
    Interaction,
    LearnerHistory,
)
from domain.ports import Published


class ContentRecommender(ScoringRecommender):
    name = "content"

    def __init__(self, event_weights: Mapping[EventType, float] = DEFAULT_EVENT_WEIGHTS) -> None:
        self.event_weights = dict(event_weights)
        self.index_catalog([])
        self.vectors = sparse.csr_matrix((0, 0))

    def fit(self, courses: Sequence[Course], interactions: Sequence[Interaction]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.index_catalog(courses)
        if not self.courses:
            self.vectors = sparse.csr_matrix((0, 0))
            return
        vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True)
        # Rows are L2-normalised, so a dot product is the cosine similarity.
        self.vectors = vectorizer.fit_transform([c.text() for c in self.courses]).tocsr()
        self._transposed = self.vectors.T.tocsr()

    def dump(self) -> Published:
        files = {
            "course_ids.json": ids_file([c.course_id for c in self.courses]),
            **csr_files("tfidf", self.vectors),
        }
        return files, {"courses": len(self.courses), "terms": int(self.vectors.shape[1])}

    def restore(
        self,
        files: Mapping[str, bytes],
        manifest: Mapping[str, Any],
        catalog: Mapping[CourseId, Course],
    ) -> None:
        course_ids, vectors = ids(files), csr(files, "tfidf")
        if vectors.shape[0] != len(course_ids):
            raise ValueError(f"{vectors.shape[0]} TF-IDF rows for {len(course_ids)} courses")
        self.restore_catalog(course_ids, catalog)
        self.vectors = vectors
        self._transposed = vectors.T.tocsr()

    def _weights(self, learner: LearnerHistory) -> dict[int, tuple[float, EventType]]:
        return {
            self.index[c]: (self.event_weights[e], e)
            for c, e in learner.strongest().items()
            if c in self.index
        }

    def scores(self, learners: Sequence[LearnerHistory]) -> np.ndarray:
        rows: list[int] = []
        columns: list[int] = []
        values: list[float] = []
        for row, learner in enumerate(learners):
            touched = self._weights(learner)
            total = sum(w for w, _ in touched.values())
            for column, (weight, _) in touched.items():
                rows.append(row)
                columns.append(column)
                values.append(weight / total)
        weights = sparse.csr_matrix(
            (values, (rows, columns)), shape=(len(learners), len(self.courses))
        )
        profiles = weights @ self.vectors
        scores = (profiles @ self._transposed).toarray()
        # A course sharing no words with anything the learner did is not "similar".
        scores[scores <= 1e-12] = -np.inf
        return scores

    def reasons(self, learner: LearnerHistory, rows: Sequence[int]) -> list[str]:
        """Names, per course, the learner's own course (other than it) closest to it: one
        sparse product for all the courses served."""
        touched = {r: e for r, (_, e) in self._weights(learner).items()}
        own = list(touched)
        closeness = (
            (self.vectors[own] @ self.vectors[list(rows)].T).toarray()
            if own and rows
            else np.zeros((0, len(rows)))
        )
        said = []
        for column, row in enumerate(rows):
            ranked = [(closeness[i, column], r) for i, r in enumerate(own) if r != row]
            best = max(ranked, default=(0.0, -1))
            if best[0] > 0:
                title, verb = self.courses[best[1]].title, touched[best[1]].past_tense
                said.append(f"Similar to {title}, which you {verb}")
                continue
            event = learner.strongest().get(self.courses[row].course_id, EventType.VIEW)
            said.append(f"You {event.past_tense} this course before")
        return said

    def reason(self, learner: LearnerHistory, row: int) -> str:
        return self.reasons(learner, [row])[0]

    def similarity(self, source: int) -> np.ndarray:
        scores = (self.vectors @ self.vectors[source].T).toarray().ravel()
        scores[scores <= 1e-12] = -np.inf  # sharing no word is not "similar"
        return scores
