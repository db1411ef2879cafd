"""Item-to-item collaborative filtering: EASE (Steck 2019), a closed-form linear item-item model.

B = argmin ||X - XB||² + λ||B||² subject to diag(B) = 0, solved as P = (XᵀX + λI)⁻¹,
B = -P / diag(P). Any learner is scored as x_u B from their history alone, so new learners need no
refit. Without a given λ, fit() picks it from a grid by recall@10 on a validation split of the
training data (a few learners' courses held out). Above `max_dense_items` the dense inverse would not fit in memory, and a sparse item-kNN
(cosine, top `neighbours` per item) takes its place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import sparse

from adapters.scoring import ScoringRecommender
from domain.model import (
    DEFAULT_EVENT_WEIGHTS,
    Course,
    EventType,
    Interaction,
    LearnerHistory,
)


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
        history = self._history(learners)
        product = history @ self.weights
        scores = np.array(product.toarray() if sparse.issparse(product) else product, dtype=float)
        scores[np.asarray(history.sum(axis=1)).ravel() == 0] = -np.inf  # no history: nothing to say
        return scores

    def _weight(self, source: int, target: int) -> float:
        return float(self.weights[source, target])

    def reason(self, learner: LearnerHistory, row: int) -> str:
        """Names the learner's course that contributes most to this one's score."""
        own = [self.index[c] for c in learner.seen() if c in self.index and self.index[c] != row]
        if not own:
            return "Often taken together with courses like yours"
        best = max(own, key=lambda source: self._weight(source, row))
        return f"Because you took {self.courses[best].title}"

    def similarity(self, source: int) -> np.ndarray:
        row = self.weights[source]
        scores = np.array(row.toarray().ravel() if sparse.issparse(row) else row, dtype=float)
        scores[scores <= 0] = -np.inf
        return scores

    def similar_reason(self, source: int, row: int) -> str:
        return f"Learners who took {self.courses[source].title} also took this"


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
