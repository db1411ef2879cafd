"""Item-to-item collaborative filtering: EASE (Steck 2019), a closed-form linear item-item model.

B = argmin ||X - XB||² + λ||B||² subject to diag(B) = 0, solved as P = (XᵀX + λI)⁻¹,
B = -P / diag(P). Any learner is scored as x_u B from their history alone, so new learners need no
refit. The inverse is a float32 Cholesky inverse of the whole Gram matrix (seconds at 8k courses).
Without a given λ, fit() picks it from a grid by recall@10 on a validation split of the training
data; above `search_items` courses the grid is searched on the most popular courses only, so the
search costs a fraction of the one full inverse. Above `max_dense_items` the dense inverse would
not fit in memory, and a sparse item-kNN (cosine, top `neighbours` per item) takes its place.

`proximity_weight` > 0 counts courses a learner took close together in time as co-occurring more
strongly: the Gram matrix becomes XᵀX + proximity_weight · P, where P adds, for every learner,
PROXIMITY_DECAY^d for every two of their courses d places apart (at most PROXIMITY_WINDOW) in the
order they last touched them (a session-aware item model, SLIS: Choi et al. 2021). Courses taken
in one term, or films rated in one sitting, are related beyond sharing a history: on MovieLens'
validation split it lifted NDCG@10 from 0.2235 to 0.2313 at λ=100 (0.2334 to 0.2416 as the search
chose λ without and with it; docs/results.md). It acts at fit time, on the EASE path only (not
the item-kNN fallback); fit()'s own λ search (no λ given) includes it, with P built without the
courses that search hides.

`recency_decay` < 1 weights each learner's input row towards their latest courses (each step back
in time counts `recency_decay` times less): on data where learners move on through a catalog
(CNPC) it lifts recall; on order-free data it is left at 1. It acts at scoring time only.
A published model keeps each course's PUBLISHED_NEIGHBOURS weights of largest magnitude (all of
them in smaller catalogs) as a sparse matrix; a web worker scores a learner by adding up the rows
of their courses.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import sparse

from adapters import arrays, item_weights
from adapters.arrays import csr, csr_files, ids, ids_file
from adapters.scoring import ScoringRecommender, a_course_in
from adapters.taken_together import (
    restore_together,
    taken_together,
    together_files,
    took,
    took_both,
    took_pairs,
)
from domain.model import (
    DEFAULT_EVENT_WEIGHTS,
    Course,
    CourseId,
    EventType,
    Interaction,
    LearnerHistory,
)
from domain.ports import Published

#: weights kept per course in a published model (all of them in catalogs up to this size)
PUBLISHED_NEIGHBOURS = 1024


class ItemCFRecommender(ScoringRecommender):
    name = "item_cf"
    scoring_settings = frozenset({"recency_decay"})

    GRID = (5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0)

    def __init__(
        self,
        regularization: float | None = None,
        max_dense_items: int = 20_000,
        neighbours: int = 100,
        event_weights: Mapping[EventType, float] = DEFAULT_EVENT_WEIGHTS,
        recency_decay: float = 1.0,
        search_items: int = 2_000,
        proximity_weight: float = 0.0,
    ) -> None:
        # bounded: far beyond the values that help (0-16), where float32 Gram matrices overflow
        if not 0 <= proximity_weight <= 1000:
            raise ValueError(f"proximity_weight must be a number 0-1000, got {proximity_weight}")
        self.regularization = regularization
        self.proximity_weight = float(proximity_weight)
        self.max_dense_items = max_dense_items
        self.neighbours = neighbours
        self.event_weights = dict(event_weights)
        self.recency_decay = _decay(recency_decay)
        self.search_items = search_items
        self.chosen: float | None = None
        #: "ease" or "knn" (above max_dense_items): what was fitted, or what a restored model was
        self.kind = "ease"
        self.index_catalog([])
        self.weights: np.ndarray | sparse.csr_matrix = np.zeros((0, 0), dtype=np.float32)
        #: which courses learners took together: what a reason may name (adapters.taken_together)
        self.together: sparse.csr_matrix | None = None

    @property
    def ready(self) -> bool:
        return bool(self.courses)

    def fit(self, courses: Sequence[Course], interactions: Sequence[Interaction]) -> None:
        self.index_catalog(courses)
        self.together = taken_together(self.index, took(interactions))
        matrix = item_weights.interaction_matrix(self.index, interactions)
        if len(self.courses) > self.max_dense_items:
            self.chosen, self.kind = None, "knn"
            self.weights = item_weights.item_knn(matrix, self.neighbours)
            return
        self.kind = "ease"
        self.chosen = (
            self.regularization
            if self.regularization is not None
            else item_weights.choose_regularization(
                matrix,
                self.GRID,
                self.search_items,
                proximity=(self.proximity_weight, self.index, interactions),
            )
        )
        gram = item_weights.gram_matrix(matrix)
        if self.proximity_weight:
            item_weights.add_proximity(gram, self.index, interactions, self.proximity_weight)
        self.weights = item_weights.ease(gram, self.chosen)

    def inert_settings(self) -> frozenset[str]:
        return frozenset({"regularization", "proximity_weight"} if self.kind == "knn" else ())

    def fitted_settings(self) -> dict[str, Any]:
        """What was fitted: the model kind, λ, the proximity weight and the recency weighting."""
        if self.kind == "knn":
            return {"kind": "knn", "regularization": None, "recency_decay": self.recency_decay}
        return {
            "kind": "ease",
            "regularization": self.chosen,
            "proximity_weight": self.proximity_weight,
            "recency_decay": self.recency_decay,
        }

    def dump(self) -> Published:
        course_ids = [c.course_id for c in self.courses]
        files = {
            "course_ids.json": ids_file(course_ids),
            **csr_files("weights", item_weights.strongest(self.weights, PUBLISHED_NEIGHBOURS)),
            **together_files(self.together, course_ids),
        }
        # "model": what this model was fitted with. A trainer replaces "settings" with the
        # settings it asked for (possibly none: the defaults), which it compares to decide what
        # is stale; serving must score with what was fitted, whatever the defaults.
        return files, {
            "courses": len(self.courses),
            "settings": self.fitted_settings(),
            "model": self.fitted_settings(),
            "neighbours": PUBLISHED_NEIGHBOURS,
        }

    def restore(
        self,
        files: Mapping[str, bytes],
        manifest: Mapping[str, Any],
        catalog: Mapping[CourseId, Course],
    ) -> None:
        course_ids, weights = ids(files), csr(files, "weights")
        if weights.shape != (len(course_ids), len(course_ids)):
            raise ValueError(f"weights of shape {weights.shape} for {len(course_ids)} courses")
        settings = manifest.get("model") or manifest.get("settings", {})
        recency_decay = _decay(float(settings.get("recency_decay", 1.0)))
        self.restore_catalog(course_ids, catalog)
        self.weights = weights
        self.together = restore_together(files, self.index)
        self.chosen = settings.get("regularization")
        self.kind = settings.get("kind", "ease")
        self.proximity_weight = float(settings.get("proximity_weight", 0.0))
        self.recency_decay = recency_decay

    def rescored(self, **settings: Any) -> ItemCFRecommender:
        """This fitted model with another recency weighting (it acts when scoring only)."""
        if set(settings) - self.scoring_settings:
            raise TypeError(
                f"not set when scoring: {sorted(set(settings) - self.scoring_settings)}"
            )
        other = copy.copy(self)
        other.recency_decay = _decay(settings.get("recency_decay", self.recency_decay))
        return other

    def answers(self, learner: LearnerHistory) -> bool:
        """Only a learner with a course the model knows: it scores from those courses alone."""
        return self.ready and any(e.course_id in self.index for e in learner.events)

    def _inputs(self, learner: LearnerHistory) -> tuple[list[int], list[float]]:
        """The learner's known courses and their input weights: 1, or with recency weighting
        `recency_decay` per step back from the course they touched last."""
        known = [self.index[c] for c in _latest_last(learner) if c in self.index]
        steps = len(known) - 1
        return known, [self.recency_decay ** (steps - position) for position in range(len(known))]

    def _history(self, learners: Sequence[LearnerHistory]) -> sparse.csr_matrix:
        rows: list[int] = []
        cols: list[int] = []
        values: list[float] = []
        for row, learner in enumerate(learners):
            known, weights = self._inputs(learner)
            rows.extend([row] * len(known))
            cols.extend(known)
            values.extend(weights)
        return sparse.csr_matrix(
            (np.array(values, dtype=np.float32), (rows, cols)),
            shape=(len(learners), len(self.courses)),
        )

    def scores(self, learners: Sequence[LearnerHistory]) -> np.ndarray:
        if sparse.issparse(self.weights):
            return self._sparse_scores(learners)
        history = self._history(learners)
        scores = np.array(history @ self.weights, dtype=float)
        # Nothing in the learner's history speaks for such a course (no history at all, or
        # one that as a whole scores it at most 0): not recommended, popular courses fill in.
        scores[scores <= 0] = -np.inf
        return scores

    def _sparse_scores(self, learners: Sequence[LearnerHistory]) -> np.ndarray:
        """The weighted sum of the weight rows of each learner's courses, added up with one
        bincount (a sparse-times-sparse product would build a sparse result first)."""
        weights: sparse.csr_matrix = self.weights  # type: ignore[assignment]
        scores = np.full((len(learners), len(self.courses)), -np.inf)
        for row, learner in enumerate(learners):
            known, inputs = self._inputs(learner)
            if not known:
                continue  # no history: nothing to say
            starts, ends = weights.indptr[known], weights.indptr[np.add(known, 1)]
            take = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends, strict=True)])
            scale = np.repeat(np.asarray(inputs), ends - starts)
            scores[row] = np.bincount(
                weights.indices[take],
                weights=weights.data[take] * scale,
                minlength=len(self.courses),
            )
        scores[scores <= 0] = -np.inf  # as in scores(): nothing speaks for it
        return scores

    def reason(self, learner: LearnerHistory, row: int) -> str:
        """Names the learner's course that contributes most to this one's score."""
        return self.reasons(learner, [row])[0]

    def reasons(self, learner: LearnerHistory, rows: Sequence[int]) -> list[str]:
        """Per course, the learner's course adding most to its score, as scores() weighs them,
        among those some learner took together with it; none when their history as a whole
        scores it at most 0 (it was served only because the list had places left) or nobody took
        it with any of theirs: then only what is true without it."""
        strongest = learner.strongest()
        own, inputs = self._inputs(learner)
        block = None
        if own and rows:  # only the weights asked for: a dense row is the whole catalog
            block = (
                arrays.block(self.weights, own, rows)
                if sparse.issparse(self.weights)
                else self.weights[np.ix_(own, list(rows))]
            )
        taken = took_pairs(self.together, own, rows)
        said = []
        for column, row in enumerate(rows):
            parts = [
                (block[i, column] * weight, r)  # type: ignore[index]
                for i, (r, weight) in enumerate(zip(own, inputs, strict=True))
            ]
            best = max(
                ((p, r) for i, (p, r) in enumerate(parts) if r != row and taken[i, column]),
                default=(0.0, -1),
            )
            if best[0] <= 0 or sum(p for p, _ in parts) <= 0:
                said.append(self.plain_reason(learner, row))
                continue
            course = self.courses[best[1]]
            said.append(f"Because you {strongest[course.course_id].past_tense} {course.title}")
        return said

    def similarity(self, source: int) -> np.ndarray:
        row = self.weights[source]
        scores = np.array(row.toarray().ravel() if sparse.issparse(row) else row, dtype=float)
        scores[scores <= 0] = -np.inf
        return scores

    def similar_reason(self, source: int, row: int) -> str:
        if took_both(self.together, source, row):
            return f"Learners who took {self.courses[source].title} also took this"
        return a_course_in(self.courses[row].category)


def _decay(recency_decay: float) -> float:
    if not 0.0 < recency_decay <= 1.0:
        raise ValueError(f"recency_decay must be in (0, 1], got {recency_decay}")
    return recency_decay


def _latest_last(learner: LearnerHistory) -> list[CourseId]:
    """The learner's distinct courses ordered by when they last touched each, latest last."""
    last: dict[CourseId, int] = {}
    for position, event in enumerate(learner.events):
        last[event.course_id] = position
    return sorted(last, key=last.__getitem__)
