"""Item-to-item collaborative filtering: EASE (Steck 2019), a closed-form linear item-item model.

B = argmin ||X - XB||² + λ||B||² subject to diag(B) = 0, solved as P = (XᵀX + λI)⁻¹,
B = -P / diag(P). Any learner is scored as x_u B from their history alone, so new learners need no
refit. The inverse is a float32 Cholesky inverse of the whole Gram matrix (seconds at 8k courses).
Without a given λ, fit() picks it from a grid by recall@10 on a validation split of the training
data; above `search_items` courses the grid is searched on the most popular courses only, so the
search costs a fraction of the one full inverse. Above `max_dense_items` the dense inverse would
not fit in memory, and a sparse item-kNN (cosine, top `neighbours` per item) takes its place.

`recency_decay` < 1 weights each learner's input row towards their latest courses (each step back
in time counts `recency_decay` times less): on data where learners move on through a catalog
(CNPC) it lifts recall; on order-free data it is left at 1. It acts at scoring time only.
The fitted state is plain arrays (`to_arrays` / `from_arrays`) so it can be published as-is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import sparse
from scipy.linalg import lapack

from adapters.scoring import ScoringRecommender
from domain.model import (
    DEFAULT_EVENT_WEIGHTS,
    Course,
    CourseId,
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
        recency_decay: float = 1.0,
        search_items: int = 2_000,
    ) -> None:
        if not 0.0 < recency_decay <= 1.0:
            raise ValueError(f"recency_decay must be in (0, 1], got {recency_decay}")
        self.regularization = regularization
        self.max_dense_items = max_dense_items
        self.neighbours = neighbours
        self.event_weights = dict(event_weights)
        self.recency_decay = recency_decay
        self.search_items = search_items
        self.chosen: float | None = None
        self.index_catalog([])
        self.weights: np.ndarray | sparse.csr_matrix = np.zeros((0, 0), dtype=np.float32)

    @property
    def ready(self) -> bool:
        return bool(self.courses)

    def fit(self, courses: Sequence[Course], interactions: Sequence[Interaction]) -> None:
        self.index_catalog(courses)
        matrix = interaction_matrix(self.index, interactions)
        if len(self.courses) > self.max_dense_items:
            self.chosen = None
            self.weights = _item_knn(matrix, self.neighbours)
            return
        self.chosen = (
            self.regularization
            if self.regularization is not None
            else _choose(matrix, self.GRID, self.search_items)
        )
        self.weights = _ease(matrix, self.chosen)

    def settings(self) -> dict[str, float | str | None]:
        """What was fitted: the model kind, λ and the recency weighting."""
        kind = "ease" if isinstance(self.weights, np.ndarray) else "knn"
        return {"kind": kind, "regularization": self.chosen, "recency_decay": self.recency_decay}

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted state as arrays (no pickle): weights, course ids and the settings."""
        arrays: dict[str, np.ndarray] = {
            "course_ids": np.array([c.course_id for c in self.courses], dtype=str),
            "recency_decay": np.array(self.recency_decay),
            "regularization": np.array(np.nan if self.chosen is None else self.chosen),
        }
        if isinstance(self.weights, np.ndarray):
            arrays["weights"] = self.weights
        else:
            csr = sparse.csr_matrix(self.weights)
            arrays |= {"knn_data": csr.data, "knn_indices": csr.indices, "knn_indptr": csr.indptr}
        return arrays

    def from_arrays(self, courses: Sequence[Course], arrays: Mapping[str, np.ndarray]) -> None:
        """Restores `to_arrays` output; `courses` must be the fitted catalog, in its order."""
        ids = [str(c) for c in arrays["course_ids"]]
        if ids != [c.course_id for c in courses]:
            raise ValueError("the catalog differs from the one item_cf was fitted on")
        self.index_catalog(courses)
        self.recency_decay = float(arrays["recency_decay"])
        regularization = float(arrays["regularization"])
        self.chosen = None if np.isnan(regularization) else regularization
        if "weights" in arrays:
            self.weights = np.asarray(arrays["weights"], dtype=np.float32)
        else:
            n = len(ids)
            self.weights = sparse.csr_matrix(
                (arrays["knn_data"], arrays["knn_indices"], arrays["knn_indptr"]), shape=(n, n)
            )

    def _history(self, learners: Sequence[LearnerHistory]) -> sparse.csr_matrix:
        rows: list[int] = []
        cols: list[int] = []
        values: list[float] = []
        for row, learner in enumerate(learners):
            known = [self.index[c] for c in _latest_last(learner) if c in self.index]
            steps = len(known) - 1
            for position, col in enumerate(known):
                rows.append(row)
                cols.append(col)
                values.append(self.recency_decay ** (steps - position))
        return sparse.csr_matrix(
            (np.array(values, dtype=np.float32), (rows, cols)),
            shape=(len(learners), len(self.courses)),
        )

    def scores(self, learners: Sequence[LearnerHistory]) -> np.ndarray:
        history = self._history(learners)
        product = history @ self.weights
        scores = np.array(product.toarray() if sparse.issparse(product) else product, dtype=float)
        scores[np.diff(history.indptr) == 0] = -np.inf  # no history: nothing to say
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


def _latest_last(learner: LearnerHistory) -> list[CourseId]:
    """The learner's distinct courses ordered by when they last touched each, latest last."""
    last: dict[CourseId, int] = {}
    for position, event in enumerate(learner.events):
        last[event.course_id] = position
    return sorted(last, key=last.__getitem__)


def interaction_matrix(
    index: Mapping[CourseId, int], interactions: Sequence[Interaction]
) -> sparse.csr_matrix:
    """Binary learners × courses matrix (float32) of who touched what."""
    pairs = {(e.user_id, index[e.course_id]) for e in interactions if e.course_id in index}
    users = {u: i for i, u in enumerate(sorted({u for u, _ in pairs}))}
    rows = np.fromiter((users[u] for u, _ in pairs), dtype=np.int64, count=len(pairs))
    cols = np.fromiter((c for _, c in pairs), dtype=np.int64, count=len(pairs))
    return sparse.csr_matrix(
        (np.ones(len(pairs), dtype=np.float32), (rows, cols)), shape=(len(users), len(index))
    )


def _ease(matrix: sparse.csr_matrix, regularization: float) -> np.ndarray:
    """EASE weights from a float32 Cholesky inverse of the regularised Gram matrix."""
    gram = np.asarray((matrix.T @ matrix).toarray(), dtype=np.float32)
    gram[np.diag_indices_from(gram)] += np.float32(regularization)
    factor, info = lapack.spotrf(gram, lower=0, overwrite_a=1, clean=0)
    if info != 0:
        raise np.linalg.LinAlgError(f"Gram matrix not positive definite (spotrf info {info})")
    inverse, info = lapack.spotri(factor, lower=0, overwrite_c=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"Cholesky inverse failed (spotri info {info})")
    upper = np.triu(inverse)
    inverse = upper + np.triu(upper, 1).T  # spotri fills one triangle only
    diagonal = np.diag(inverse).copy()
    inverse /= -diagonal
    inverse[np.diag_indices_from(inverse)] = 0.0
    return inverse


def _choose(
    matrix: sparse.csr_matrix, grid: Sequence[float], search_items: int, seed: int = 42
) -> float:
    """λ with the best recall@10 when 20% of the courses of up to 1,000 learners are hidden,
    searched on the `search_items` most popular courses (all of them in small catalogs)."""
    popularity = np.asarray(matrix.sum(axis=0)).ravel()
    if matrix.shape[1] > search_items:
        keep = np.sort(np.argsort(-popularity, kind="stable")[:search_items])
        matrix = matrix[:, keep].tocsr()
    rng = np.random.default_rng(seed)
    counts = np.diff(matrix.indptr)
    candidates = np.flatnonzero(counts >= 5)
    if candidates.size == 0:
        return grid[len(grid) // 2]
    chosen = np.sort(rng.choice(candidates, size=min(1000, candidates.size), replace=False))
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
    inputs = train[users]
    best, best_recall = grid[0], -1.0
    for regularization in grid:
        scores = np.asarray(inputs @ _ease(train, regularization))
        scores[inputs.nonzero()] = -np.inf
        k = min(10, scores.shape[1] - 1)
        top = np.argpartition(-scores, k, axis=1)[:, :k] if k > 0 else np.zeros((len(users), 0))
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
    """Cosine similarity between item columns, keeping each item's top `neighbours` (vectorised:
    one sort of all similarities by row, then the first `neighbours` of each row)."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel())
    norms[norms == 0] = 1.0
    normalised = (matrix @ sparse.diags((1.0 / norms).astype(np.float32))).tocsc()
    similarity = (normalised.T @ normalised).tocsr()
    similarity.setdiag(0)
    similarity.eliminate_zeros()
    similarity.sort_indices()
    rows = np.repeat(np.arange(similarity.shape[0]), np.diff(similarity.indptr))
    order = np.lexsort((-similarity.data, rows))
    rank = np.arange(order.size) - similarity.indptr[rows[order]]
    keep = order[rank < neighbours]
    return sparse.csr_matrix(
        (similarity.data[keep], (rows[keep], similarity.indices[keep])),
        shape=similarity.shape,
        dtype=np.float32,
    )
