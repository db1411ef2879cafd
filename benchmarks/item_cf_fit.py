"""item_cf fitting time at a modest real catalog's size, before and after, in one run.

    nice -n 10 .venv/bin/python -m benchmarks.item_cf_fit [--courses 8000 --events 100000]

"after" is ItemCFRecommender.fit as shipped (λ searched on the most popular courses, one float32
Cholesky inverse of the whole Gram matrix), and the same fit with λ given, without and with
courses taken close together counted (proximity_weight). "before" is the
previous algorithm: a float64 np.linalg.inv of the whole Gram matrix for each of the 8 λ of the
grid plus the final fit; one such inverse is timed and multiplied by 9 unless --full-baseline.
The kNN fallback (forced with max_dense_items=0) is timed against the previous per-item loop.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

import numpy as np
from scipy import sparse
from threadpoolctl import threadpool_limits

from adapters.item_cf import ItemCFRecommender
from adapters.item_weights import interaction_matrix, item_knn
from domain.model import Course, EventType, Interaction


def synthetic(courses: int, events: int, seed: int = 0) -> tuple[list[Course], list[Interaction]]:
    """Power-law course popularity, learners with 2-60 events around a few topics."""
    rng = np.random.default_rng(seed)
    catalog = [Course(f"c{i}", f"Course {i}", category=f"t{i % 40}") for i in range(courses)]
    popularity = 1.0 / np.arange(1, courses + 1) ** 0.8
    popularity /= popularity.sum()
    start = datetime(2025, 1, 1, tzinfo=UTC)
    interactions: list[Interaction] = []
    user = 0
    while len(interactions) < events:
        size = int(rng.integers(2, 60))
        topic = int(rng.integers(0, 40))
        picks = rng.choice(courses, size=size, p=popularity)
        picks[: size // 2] = (picks[: size // 2] // 40) * 40 + topic  # half from one topic
        for step, course in enumerate(picks):
            interactions.append(
                Interaction(
                    f"e{len(interactions)}",
                    f"u{user}",
                    f"c{min(int(course), courses - 1)}",
                    EventType.ENROLL,
                    start + timedelta(days=step),
                )
            )
        user += 1
    return catalog, interactions[:events]


def _old_inverse(matrix: sparse.csr_matrix, regularization: float) -> float:
    started = time.perf_counter()
    gram = (matrix.T @ matrix).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += regularization
    inverse = np.linalg.inv(gram)
    weights = -inverse / np.diag(inverse)
    weights[np.diag_indices_from(weights)] = 0.0
    return time.perf_counter() - started


def _old_knn(matrix: sparse.csr_matrix, neighbours: int) -> float:
    started = time.perf_counter()
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel())
    norms[norms == 0] = 1.0
    similarity = (matrix @ sparse.diags(1.0 / norms)).T @ (matrix @ sparse.diags(1.0 / norms))
    similarity = similarity.tocsr()
    similarity.setdiag(0)
    similarity.eliminate_zeros()
    rows, cols, values = [], [], []
    for item in range(similarity.shape[0]):
        start, end = similarity.indptr[item], similarity.indptr[item + 1]
        keep = np.argsort(-similarity.data[start:end])[:neighbours]
        rows.extend([item] * len(keep))
        cols.extend(similarity.indices[start:end][keep])
        values.extend(similarity.data[start:end][keep])
    sparse.csr_matrix((values, (rows, cols)), shape=similarity.shape)
    return time.perf_counter() - started


def _timed(model: ItemCFRecommender, courses: list[Course], events: list[Interaction]) -> float:
    started = time.perf_counter()
    model.fit(courses, events)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--courses", type=int, default=8000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--full-baseline", action="store_true")
    args = parser.parse_args()
    courses, events = synthetic(args.courses, args.events)
    matrix = interaction_matrix({c.course_id: i for i, c in enumerate(courses)}, events)
    print(
        f"{args.courses} courses, {len(events)} events, {matrix.shape[0]} learners, "
        f"{args.threads} BLAS threads",
        flush=True,
    )
    with threadpool_limits(args.threads):
        searched = ItemCFRecommender()
        after = _timed(searched, courses, events)
        print(f"after:  fit with λ search {after:.1f} s (λ={searched.chosen})", flush=True)
        given = _timed(ItemCFRecommender(regularization=searched.chosen), courses, events)
        print(f"after:  fit with λ given {given:.1f} s", flush=True)
        near = ItemCFRecommender(regularization=searched.chosen, proximity_weight=4.0)
        with_proximity = _timed(near, courses, events)
        print(
            f"after:  fit with λ given and proximity_weight 4 {with_proximity:.1f} s "
            f"({with_proximity / given:.2f}x)",
            flush=True,
        )
        one = _old_inverse(matrix, 100.0)
        runs = len(ItemCFRecommender.GRID) + 1
        if args.full_baseline:
            before = one + sum(_old_inverse(matrix, lam) for lam in ItemCFRecommender.GRID)
            print(f"before: {runs} float64 inverses {before:.1f} s", flush=True)
        else:
            before = one * runs
            print(f"before: one float64 inverse {one:.1f} s, x{runs} = {before:.1f} s", flush=True)
        print(f"speed-up with λ search: {before / after:.1f}x", flush=True)
        started = time.perf_counter()
        item_knn(matrix, 100)
        knn_new = time.perf_counter() - started
        knn_old = _old_knn(matrix, 100)
        print(f"kNN top-100 tables: before (per-item loop) {knn_old:.2f} s, after {knn_new:.2f} s")


if __name__ == "__main__":
    main()
