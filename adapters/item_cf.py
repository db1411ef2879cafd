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
from scipy.linalg import lapack

from adapters.arrays import csr, csr_files, ids, ids_file
from adapters.scoring import ScoringRecommender, top_k
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
#: proximity_weight: courses at most this many places apart in a learner's history count as taken
#: together, each place apart PROXIMITY_DECAY times less (0.9^30 = 0.04)
PROXIMITY_WINDOW = 30
PROXIMITY_DECAY = 0.9


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

    @property
    def ready(self) -> bool:
        return bool(self.courses)

    def fit(self, courses: Sequence[Course], interactions: Sequence[Interaction]) -> None:
        self.index_catalog(courses)
        matrix = interaction_matrix(self.index, interactions)
        if len(self.courses) > self.max_dense_items:
            self.chosen, self.kind = None, "knn"
            self.weights = _item_knn(matrix, self.neighbours)
            return
        self.kind = "ease"
        self.chosen = (
            self.regularization
            if self.regularization is not None
            else _choose(
                matrix,
                self.GRID,
                self.search_items,
                proximity=(self.proximity_weight, self.index, interactions),
            )
        )
        gram = _gram(matrix)
        if self.proximity_weight:
            add_proximity(gram, self.index, interactions, self.proximity_weight)
        self.weights = _ease(gram, self.chosen)

    def inert_settings(self) -> frozenset[str]:
        return frozenset({"regularization", "proximity_weight"} if self.kind == "knn" else ())

    def settings(self) -> dict[str, float | str | None]:
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
        files = {
            "course_ids.json": ids_file([c.course_id for c in self.courses]),
            **csr_files("weights", _strongest(self.weights, PUBLISHED_NEIGHBOURS)),
        }
        # "model": what this model was fitted with. A trainer replaces "settings" with the
        # settings it asked for (possibly none: the defaults), which it compares to decide what
        # is stale; serving must score with what was fitted, whatever the defaults.
        return files, {
            "courses": len(self.courses),
            "settings": self.settings(),
            "model": self.settings(),
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
        scores[np.diff(history.indptr) == 0] = -np.inf  # no history: nothing to say
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
        return scores

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

    def similarity(self, source: int) -> np.ndarray:
        row = self.weights[source]
        scores = np.array(row.toarray().ravel() if sparse.issparse(row) else row, dtype=float)
        scores[scores <= 0] = -np.inf
        return scores

    def similar_reason(self, source: int, row: int) -> str:
        return f"Learners who took {self.courses[source].title} also took this"


def _decay(recency_decay: float) -> float:
    if not 0.0 < recency_decay <= 1.0:
        raise ValueError(f"recency_decay must be in (0, 1], got {recency_decay}")
    return recency_decay


def _strongest(weights: np.ndarray | sparse.csr_matrix, keep: int) -> sparse.csr_matrix:
    """Each row's `keep` weights of largest magnitude (EASE's negative weights rank too), float32;
    every weight when rows are no longer than that, so serving scores as evaluation did. A sparse
    matrix (item-kNN above the dense limit) stays sparse: its dense copy would not fit."""
    if sparse.issparse(weights):
        return _strongest_sparse(sparse.csr_matrix(weights, dtype=np.float32), keep)
    dense = np.asarray(weights, dtype=np.float32).copy()
    if dense.shape[1] > keep:
        cut = np.argpartition(-np.abs(dense), keep - 1, axis=1)[:, keep:]
        np.put_along_axis(dense, cut, 0.0, axis=1)
    return sparse.csr_matrix(dense)


def _strongest_sparse(matrix: sparse.csr_matrix, keep: int) -> sparse.csr_matrix:
    lengths = np.diff(matrix.indptr)
    if lengths.size == 0 or lengths.max() <= keep:
        return matrix
    return _row_tops(matrix, keep, magnitude=True)


def _row_tops(matrix: sparse.csr_matrix, keep: int, magnitude: bool = False) -> sparse.csr_matrix:
    """Each row's `keep` largest entries (by magnitude: absolute values), float32, ties to the
    lower course index: rows no longer than that are kept whole, longer ones are cut one by one
    with top_k (at 10,000 courses and 2M events 0.1 s, where one sort of every entry by row took
    4.9 s)."""
    matrix.sort_indices()
    by = np.abs(matrix.data) if magnitude else matrix.data
    starts, lengths = matrix.indptr[:-1], np.diff(matrix.indptr)
    kept = [np.flatnonzero(np.repeat(lengths <= keep, lengths))]
    for row in np.flatnonzero(lengths > keep):
        start, end = starts[row], starts[row] + lengths[row]
        kept.append(start + np.asarray(top_k(by[start:end], keep), np.int64))
    order = np.sort(np.concatenate(kept))
    rows = np.repeat(np.arange(matrix.shape[0]), lengths)
    return sparse.csr_matrix(
        (matrix.data[order], (rows[order], matrix.indices[order])),
        shape=matrix.shape,
        dtype=np.float32,
    )


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


def add_proximity(
    gram: np.ndarray,
    index: Mapping[CourseId, int],
    interactions: Sequence[Interaction],
    weight: float,
) -> None:
    """Adds weight · P to `gram` (courses × courses, float32, in place: at 20,000 courses a second
    such matrix would take 1.6 GB more). P: for every learner, PROXIMITY_DECAY^d for every two of
    their courses d places apart (1 <= d <= PROXIMITY_WINDOW), both ways, and 1 for each course
    with itself, in the order they last touched them. A sum of each learner's kernel matrix
    (decay^|i - j| cut off beyond the window: positive definite for the shipped window and decay,
    smallest eigenvalue about 0.013 however long the history; a test holds it), so XᵀX + αP stays
    a Gram matrix."""
    known = [
        (e.user_id, index[e.course_id], e.occurred_at.timestamp())
        for e in interactions
        if e.course_id in index
    ]
    if not known:
        return
    n = len(index)
    # gram's elements in memory order, a view whichever its order (P is symmetric, so row-major
    # and column-major positions are alike)
    flat = gram.ravel(order="K")
    if not np.shares_memory(flat, gram):
        raise ValueError("gram must be one contiguous block")
    users = np.unique([u for u, _, _ in known], return_inverse=True)[1].ravel()
    courses = np.fromiter((c for _, c, _ in known), dtype=np.int64, count=len(known))
    times = np.fromiter((t for _, _, t in known), dtype=np.float64, count=len(known))
    # each learner's courses by when they last touched them (ties: the later event)
    order = np.lexsort((np.arange(len(known)), times, courses, users))
    last = np.ones(order.size, dtype=bool)
    last[:-1] = (users[order[1:]] != users[order[:-1]]) | (
        courses[order[1:]] != courses[order[:-1]]
    )
    order = order[last]
    order = order[np.lexsort((order, times[order], users[order]))]
    users, courses = users[order], courses[order]
    np.add.at(flat, courses * n + courses, np.full(courses.size, weight, dtype=np.float32))
    for d in range(1, min(PROXIMITY_WINDOW, max(len(courses) - 1, 0)) + 1):
        same = users[:-d] == users[d:]
        a, b = courses[:-d][same], courses[d:][same]
        values = np.full(a.size, weight * PROXIMITY_DECAY**d, dtype=np.float32)
        np.add.at(flat, a * n + b, values)
        np.add.at(flat, b * n + a, values)


def _gram(matrix: sparse.csr_matrix) -> np.ndarray:
    return np.asarray((matrix.T @ matrix).toarray(), dtype=np.float32)


def _ease(gram: np.ndarray, regularization: float) -> np.ndarray:
    """EASE weights from a float32 Cholesky inverse of the regularised Gram matrix, computed in
    the Gram matrix's own memory (overwritten): at 20,000 courses each copy is 1.6 GB more."""
    gram[np.diag_indices_from(gram)] += np.float32(regularization)
    # LAPACK works in place only on column-major arrays; the Gram matrix is symmetric, so its
    # transpose (column-major when it is row-major) is the same matrix
    a = gram.T if gram.flags.c_contiguous else gram
    factor, info = lapack.spotrf(a, lower=0, overwrite_a=1, clean=0)
    if info != 0:
        raise np.linalg.LinAlgError(f"Gram matrix not positive definite (spotrf info {info})")
    inverse, info = lapack.spotri(factor, lower=0, overwrite_c=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"Cholesky inverse failed (spotri info {info})")
    _mirror_upper(inverse)  # spotri fills one triangle only
    inverse = inverse.T if inverse.flags.f_contiguous else inverse  # symmetric: row-major view
    diagonal = np.diag(inverse).copy()
    inverse /= -diagonal
    inverse[np.diag_indices_from(inverse)] = 0.0
    return inverse


def _mirror_upper(a: np.ndarray, rows: int = 256) -> None:
    """Copies a square matrix's upper triangle onto its lower one, in place, `rows` at a time
    (what is copied at once stays a small part of the matrix)."""
    for start in range(0, len(a), rows):
        stop = min(len(a), start + rows)
        a[start:stop, :start] = a[:start, start:stop].T
        for row in range(start + 1, stop):
            a[row, start:row] = a[start:row, row]


def _choose(
    matrix: sparse.csr_matrix,
    grid: Sequence[float],
    search_items: int,
    seed: int = 42,
    proximity: tuple[float, Mapping[CourseId, int], Sequence[Interaction]] | None = None,
) -> float:
    """λ with the best recall@10 when 20% of the courses of up to 1,000 learners are hidden,
    searched on the `search_items` most popular courses (all of them in small catalogs).
    proximity: (weight, the catalog's index, the events `matrix` was built from): with a weight,
    every trial's Gram matrix has weight · P added, P built without the hidden courses."""
    popularity = np.asarray(matrix.sum(axis=0)).ravel()
    columns = np.arange(matrix.shape[1])
    if matrix.shape[1] > search_items:
        columns = np.sort(np.argsort(-popularity, kind="stable")[:search_items])
        matrix = matrix[:, columns].tocsr()
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
    gram = _gram(train)
    if proximity is not None and proximity[0]:
        weight, index, interactions = proximity
        course_of = {i: c for c, i in index.items()}
        kept = {course_of[int(full)]: column for column, full in enumerate(columns)}
        learners = sorted({e.user_id for e in interactions if e.course_id in index})  # its rows
        held = {(learners[u], course_of[int(columns[c])]) for u, cs in hidden.items() for c in cs}
        seen = [e for e in interactions if (e.user_id, e.course_id) not in held]
        add_proximity(gram, kept, seen, weight)
    best, best_recall = grid[0], -1.0
    for regularization in grid:
        scores = np.asarray(inputs @ _ease(gram.copy(), regularization))
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
    """Cosine similarity between item columns, keeping each item's top `neighbours` (ties at the
    cut to the lower course index)."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel())
    norms[norms == 0] = 1.0
    normalised = (matrix @ sparse.diags((1.0 / norms).astype(np.float32))).tocsc()
    similarity = (normalised.T @ normalised).tocsr()
    similarity.setdiag(0)
    similarity.eliminate_zeros()
    return _row_tops(similarity, neighbours)
