"""Per-query latency of the production FAISS index beside exact numpy search, and its recall@10.

    .venv/bin/python -m benchmarks.retrieval [--sizes 10000 100000 1000000] [--queries 200]

Random unit vectors of dimension 64; the index is built as the service builds it (FaissIndex:
exact inner product up to RS_FAISS_HNSW_ABOVE courses, HNSW above).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from adapters.faiss_index import FaissIndex
from domain.model import CourseId

K = 10


def unit_vectors(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    matrix = rng.normal(size=(n, dim)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def exact_top(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    scores = matrix @ query
    top = np.argpartition(-scores, K)[:K]
    return top[np.argsort(-scores[top])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--hnsw-above", type=int, default=50_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(
        f"{'vectors':>9}  {'index':<10} {'build s':>8}  {'index ms/q':>10}  {'numpy ms/q':>10}  {'speed-up':>8}  {'recall@10':>9}"
    )
    for n in args.sizes:
        matrix = unit_vectors(n, args.dim, rng)
        ids = [CourseId(str(i)) for i in range(n)]
        queries = unit_vectors(args.queries, args.dim, rng)
        index = FaissIndex(hnsw_above=args.hnsw_above)
        started = time.perf_counter()
        index.build(ids, matrix)
        build = time.perf_counter() - started

        started = time.perf_counter()
        found = [[int(c) for c, _ in index.search(q, K)] for q in queries]
        ours = (time.perf_counter() - started) / len(queries)

        started = time.perf_counter()
        truth = [exact_top(matrix, q) for q in queries]
        exact = (time.perf_counter() - started) / len(queries)

        recall = np.mean(
            [len(set(f) & set(t.tolist())) / K for f, t in zip(found, truth, strict=True)]
        )
        print(
            f"{n:>9,}  {index.kind:<10} {build:>8.2f}  {ours * 1e3:>10.3f}  {exact * 1e3:>10.3f}  {exact / ours:>7.1f}x  {recall:>9.3f}"
        )


if __name__ == "__main__":
    main()
