"""Item-item weight matrices from a learners × courses matrix, for item_cf: EASE's closed form
(with the proximity term), its λ search and cosine item-kNN; and each row's strongest weights,
which is what a published model keeps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import sparse
from scipy.linalg import lapack

from adapters.scoring import top_k
from domain.model import CourseId, Interaction

#: proximity_weight: courses at most this many places apart in a learner's history count as taken
#: together, each place apart PROXIMITY_DECAY times less (0.9^30 = 0.04)
PROXIMITY_WINDOW = 30
PROXIMITY_DECAY = 0.9
#: weights whose strongest are cut at once when a dense model is published (rows at a time)
CUT_ENTRIES = 1 << 18


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


def gram_matrix(matrix: sparse.csr_matrix) -> np.ndarray:
    return np.asarray((matrix.T @ matrix).toarray(), dtype=np.float32)


def ease(gram: np.ndarray, regularization: float) -> np.ndarray:
    """EASE weights from a float32 Cholesky inverse of the regularised Gram matrix, computed in
    the Gram matrix's own memory (overwritten): at 20,000 courses each copy is 1.6 GB more."""
    if not len(gram):  # an empty catalog: LAPACK rejects a 0 × 0 matrix (and prints to stdout)
        return gram
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


def choose_regularization(
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
    gram = gram_matrix(train)
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
        scores = np.asarray(inputs @ ease(gram.copy(), regularization))
        scores[inputs.nonzero()] = -np.inf
        scores[scores <= 0] = -np.inf  # as served: nothing in the history speaks for them
        k = min(10, scores.shape[1] - 1)
        top = np.argpartition(-scores, k, axis=1)[:, :k] if k > 0 else np.zeros((len(users), 0))
        recall = np.mean(
            [
                len({t for t in top[r] if np.isfinite(scores[r, t])} & set(hidden[u]))
                / min(10, len(hidden[u]))
                for r, u in enumerate(users)
            ]
        )
        if recall > best_recall:
            best, best_recall = regularization, recall
    return best


def item_knn(matrix: sparse.csr_matrix, neighbours: int) -> sparse.csr_matrix:
    """Cosine similarity between item columns, keeping each item's top `neighbours` (ties at the
    cut to the lower course index)."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel())
    norms[norms == 0] = 1.0
    normalised = (matrix @ sparse.diags((1.0 / norms).astype(np.float32))).tocsc()
    similarity = (normalised.T @ normalised).tocsr()
    similarity.setdiag(0)
    similarity.eliminate_zeros()
    return row_tops(similarity, neighbours)


def strongest(weights: np.ndarray | sparse.csr_matrix, keep: int) -> sparse.csr_matrix:
    """Each row's `keep` weights of largest magnitude (EASE's negative weights rank too), float32;
    every weight when rows are no longer than that, so serving scores as evaluation did. A sparse
    matrix (item-kNN above the dense limit) stays sparse: its dense copy would not fit."""
    if sparse.issparse(weights):
        return _strongest_sparse(sparse.csr_matrix(weights, dtype=np.float32), keep)
    dense = np.asarray(weights, dtype=np.float32)
    if dense.shape[1] <= keep:
        return sparse.csr_matrix(dense)
    # a block of rows at a time: the whole matrix cut at once took four times its memory more
    # (a copy, the magnitudes, and int64 positions from argpartition), 1.6 GB at 10,000 courses
    step = max(1, CUT_ENTRIES // dense.shape[1])
    blocks = []
    for start in range(0, len(dense), step):
        block = dense[start : start + step].copy()
        cut = np.argpartition(-np.abs(block), keep - 1, axis=1)[:, keep:]
        np.put_along_axis(block, cut, 0.0, axis=1)
        blocks.append(sparse.csr_matrix(block))
    return sparse.vstack(blocks, format="csr") if blocks else sparse.csr_matrix(dense)


def _strongest_sparse(matrix: sparse.csr_matrix, keep: int) -> sparse.csr_matrix:
    lengths = np.diff(matrix.indptr)
    if lengths.size == 0 or lengths.max() <= keep:
        return matrix
    return row_tops(matrix, keep, magnitude=True)


def row_tops(matrix: sparse.csr_matrix, keep: int, magnitude: bool = False) -> sparse.csr_matrix:
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
