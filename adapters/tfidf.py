"""Content-based: TF-IDF over course text; learner profile = event-weighted mean of course vectors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from adapters.scoring import ScoringRecommender
from domain.model import (
    DEFAULT_EVENT_WEIGHTS,
    Course,
    EventType,
    Interaction,
    LearnerHistory,
)


class ContentRecommender(ScoringRecommender):
    name = "content"

    def __init__(self, event_weights: Mapping[EventType, float] = DEFAULT_EVENT_WEIGHTS) -> None:
        self.event_weights = dict(event_weights)
        self.index_catalog([])
        self.vectors = sparse.csr_matrix((0, 0))

    def fit(self, courses: Sequence[Course], interactions: Sequence[Interaction]) -> None:
        self.index_catalog(courses)
        if not self.courses:
            self.vectors = sparse.csr_matrix((0, 0))
            return
        vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True)
        # Rows are L2-normalised, so a dot product is the cosine similarity.
        self.vectors = vectorizer.fit_transform([c.text() for c in self.courses]).tocsr()

    def _weights(self, learner: LearnerHistory) -> dict[int, tuple[float, EventType]]:
        return {
            self.index[c]: (self.event_weights[e], e)
            for c, e in learner.strongest().items()
            if c in self.index
        }

    def scores(self, learners: Sequence[LearnerHistory]) -> np.ndarray:
        weights = sparse.lil_matrix((len(learners), len(self.courses)))
        for row, learner in enumerate(learners):
            touched = self._weights(learner)
            total = sum(w for w, _ in touched.values())
            for column, (weight, _) in touched.items():
                weights[row, column] = weight / total
        profiles = weights.tocsr() @ self.vectors
        scores = (profiles @ self.vectors.T).toarray()
        # A course sharing no words with anything the learner did is not "similar".
        scores[scores <= 1e-12] = -np.inf
        return scores

    def reason(self, learner: LearnerHistory, row: int) -> str:
        """Names the learner's own course (other than this one) that is closest to it."""
        touched = {r: e for r, (_, e) in self._weights(learner).items() if r != row}
        if touched:
            own = list(touched)
            closeness = (self.vectors[own] @ self.vectors[row].T).toarray().ravel()
            best = int(np.argmax(closeness))
            if closeness[best] > 0:
                return f"Similar to {self.courses[own[best]].title}, which you {touched[own[best]].past_tense}"
        event = learner.strongest().get(self.courses[row].course_id, EventType.VIEW)
        return f"You {event.past_tense} this course before"

    def similarity(self, source: int) -> np.ndarray:
        scores = (self.vectors @ self.vectors[source].T).toarray().ravel()
        scores[scores <= 1e-12] = -np.inf  # sharing no word is not "similar"
        return scores
