"""Item-to-item collaborative filtering: EASE (Steck 2019), a closed-form linear item-item model.

B = argmin ||X - XB||² + λ||B||² subject to diag(B) = 0, solved as P = (XᵀX + λI)⁻¹,
B = -P / diag(P). Any learner is scored as x_u B from their history alone, so new learners need no
refit. Without a given λ, fit() picks it from a grid by recall@10 on a validation split of the
training data (a few learners' courses held out). Above `max_dense_items` the dense inverse would not fit in memory, and a sparse item-kNN
(cosine, top `neighbours` per item) takes its place.
"""

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

#: weights kept per course in a published model (all of them in catalogs up to this size)
PUBLISHED_NEIGHBOURS = 1024


class ItemCFRecommender(ScoringRecommender):
    name = "item_cf"

    GRID = (5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0)

    def __init__(
        self,
        regularization: float | None = None,
        max_dense_items: int = 20_000,
        neighbours: int = 100,
        event_weights: Mapping[EventType, float] = DEFAULT_EVENT_WEIGHTS,
    ) -> None:
        self.regularization = regularization
        self.max_dense_items = max_dense_items
        self.neighbours = neighbours
        self.event_weights = dict(event_weights)
        self.index_catalog([])
        self.weights: np.ndarray | sparse.csr_matrix = np.zeros((0, 0))

    @property
    def ready(self) -> bool:
        return bool(self.courses)

    def fit(self, courses: Sequence[Course], interactions: Sequence[Interaction]) -> None:
        self.index_catalog(courses)
        pairs = {
            (e.user_id, self.index[e.course_id]) for e in interactions if e.course_id in self.index
        }
        users = {u: i for i, u in enumerate(sorted({u for u, _ in pairs}))}
        rows = np.fromiter((users[u] for u, _ in pairs), dtype=np.int64, count=len(pairs))
        cols = np.fromiter((c for _, c in pairs), dtype=np.int64, count=len(pairs))
        matrix = sparse.csr_matrix(
            (np.ones(len(pairs)), (rows, cols)), shape=(len(users), len(self.courses))
        )
        if len(self.courses) > self.max_dense_items:
            self.weights = _item_knn(matrix, self.neighbours)
            return
        self.chosen = (
            self.regularization if self.regularization is not None else _choose(matrix, self.GRID)
        )
        self.weights = _ease(matrix, self.chosen)

    def _history(self, learners: Sequence[LearnerHistory]) -> sparse.csr_matrix:
        rows, cols = [], []
        for row, learner in enumerate(learners):
            for course_id in learner.seen():
                if course_id in self.index:
                    rows.append(row)
                    cols.append(self.index[course_id])
        return sparse.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(learners), len(self.courses))
        )

    def scores(self, learners: Sequence[LearnerHistory]) -> np.ndarray:
        if sparse.issparse(self.weights):
            return self._sparse_scores(learners)
        history = self._history(learners)
        scores = np.array(history @ self.weights, dtype=float)
        scores[np.asarray(history.sum(axis=1)).ravel() == 0] = -np.inf  # no history: nothing to say
        return scores

    def _sparse_scores(self, learners: Sequence[LearnerHistory]) -> np.ndarray:
        """The sum of the weight rows of each learner's courses, added up with one bincount (a
        sparse-times-sparse product would build a sparse result first)."""
        weights: sparse.csr_matrix = self.weights  # type: ignore[assignment]
        scores = np.full((len(learners), len(self.courses)), -np.inf)
        for row, learner in enumerate(learners):
            own = self.rows(learner.seen())
            if own.size == 0:
                continue  # no history: nothing to say
            starts, ends = weights.indptr[own], weights.indptr[own + 1]
            take = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends, strict=True)])
            scores[row] = np.bincount(
                weights.indices[take], weights=weights.data[take], minlength=len(self.courses)
            )
        return scores

    def _weight(self, source: int, target: int) -> float:
        return float(self.weights[source, target])

    def reason(self, learner: LearnerHistory, row: int) -> str:
        """Names the learner's course that contributes most to this one's score."""
        return self.reasons(learner, [row])[0]

    def reasons(self, learner: LearnerHistory, rows: Sequence[int]) -> list[str]:
        strongest = learner.strongest()
        own = [self.index[c] for c in strongest if c in self.index]
        block = self.weights[own][:, list(rows)] if own and rows else None
        if block is not None and sparse.issparse(block):
            block = block.toarray()
        said = []
        for column, row in enumerate(rows):
            ranked = [(block[i, column], r) for i, r in enumerate(own) if r != row]  # type: ignore[index]
            best = max(ranked, default=(0.0, -1))
            if best[0] <= 0:  # no course of theirs speaks for it on its own
                said.append("Picked for you from what you have studied")
                continue
            course = self.courses[best[1]]
            said.append(f"Because you {strongest[course.course_id].past_tense} {course.title}")
        return said

    def dump(self) -> Published:
        """Each course's strongest neighbours (all of them in catalogs of up to
        PUBLISHED_NEIGHBOURS courses), as a sparse matrix: a worker scores a learner by adding
        up the rows of the courses in their history."""
        files = {
            "course_ids.json": ids_file([c.course_id for c in self.courses]),
            **csr_files("weights", _strongest(self.weights, PUBLISHED_NEIGHBOURS)),
        }
        return files, {
            "courses": len(self.courses),
            "regularization": getattr(self, "chosen", None),
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
        self.restore_catalog(course_ids, catalog)
        self.weights = weights
        self.chosen = manifest.get("regularization")

    def similarity(self, source: int) -> np.ndarray:
        row = self.weights[source]
        scores = np.array(row.toarray().ravel() if sparse.issparse(row) else row, dtype=float)
        scores[scores <= 0] = -np.inf
        return scores

    def similar_reason(self, source: int, row: int) -> str:
        return f"Learners who took {self.courses[source].title} also took this"


def _strongest(weights: np.ndarray | sparse.csr_matrix, keep: int) -> sparse.csr_matrix:
    """Each row's `keep` weights of largest magnitude (EASE's negative weights rank too), float32;
    every weight when rows are no longer than that, so serving scores as evaluation did."""
    if sparse.issparse(weights):
        weights = weights.toarray()
    dense = np.asarray(weights, dtype=np.float32).copy()
    if dense.shape[1] > keep:
        cut = np.argpartition(-np.abs(dense), keep - 1, axis=1)[:, keep:]
        np.put_along_axis(dense, cut, 0.0, axis=1)
    return sparse.csr_matrix(dense)


def _ease(matrix: sparse.csr_matrix, regularization: float) -> np.ndarray:
    gram = (matrix.T @ matrix).toarray()
    gram[np.diag_indices_from(gram)] += regularization
    inverse = np.linalg.inv(gram)
    weights = -inverse / np.diag(inverse)
    weights[np.diag_indices_from(weights)] = 0.0
    return weights


def _choose(matrix: sparse.csr_matrix, grid: Sequence[float], seed: int = 42) -> float:
    """λ with the best recall@10 when 20% of the courses of up to 1,000 learners are hidden."""
    rng = np.random.default_rng(seed)
    counts = np.diff(matrix.indptr)
    candidates = np.flatnonzero(counts >= 5)
    if candidates.size == 0:
        return grid[len(grid) // 2]
    chosen = rng.choice(candidates, size=min(1000, candidates.size), replace=False)
    train = matrix.tolil(copy=True)
    hidden: dict[int, list[int]] = {}
    for user in chosen:
        items = matrix.indices[matrix.indptr[user] : matrix.indptr[user + 1]]
        held = rng.choice(items, size=max(1, items.size // 5), replace=False)
        hidden[int(user)] = held.tolist()
        for item in held:
            train[user, item] = 0
    train = train.tocsr()
    train.eliminate_zeros()
    users = np.array(sorted(hidden))
    best, best_recall = grid[0], -1.0
    for regularization in grid:
        scores = np.asarray(train[users] @ _ease(train, regularization))
        scores[train[users].nonzero()] = -np.inf
        top = np.argsort(-scores, axis=1)[:, :10]
        recall = np.mean(
            [
                len(set(top[r]) & set(hidden[u])) / min(10, len(hidden[u]))
                for r, u in enumerate(users)
            ]
        )
        if recall > best_recall:
            best, best_recall = regularization, recall
    return best


def _item_knn(matrix: sparse.csr_matrix, neighbours: int) -> sparse.csr_matrix:
    """Cosine similarity between item columns, keeping each item's top `neighbours`."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel())
    norms[norms == 0] = 1.0
    normalised = matrix @ sparse.diags(1.0 / norms)
    similarity = (normalised.T @ normalised).tocsr()
    similarity.setdiag(0)
    similarity.eliminate_zeros()
    rows, cols, values = [], [], []
    for item in range(similarity.shape[0]):
        start, end = similarity.indptr[item], similarity.indptr[item + 1]
        if end == start:
            continue
        keep = np.argsort(-similarity.data[start:end])[:neighbours]
        rows.extend([item] * len(keep))
        cols.extend(similarity.indices[start:end][keep])
        values.extend(similarity.data[start:end][keep])
    return sparse.csr_matrix((values, (rows, cols)), shape=similarity.shape)
