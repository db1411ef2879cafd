"""Latency of one two_tower candidate search with courses left out, FAISS's own filter (the service's
FaissIndex) against asking for k + the excluded and dropping them in Python (what it did before).

    nice -n 10 .venv/bin/python -m benchmarks.filtered_search [--sizes 100000 300000] [--queries 200]

Vectors and learners as in benchmarks.retrieval. Left out: nothing; a filter keeping 5% of the
catalog at random; one keeping the 5% of one region of the latent space (like a category, whose
courses a learner from another region is far from); the learner's own 20 courses. A filter's set
is shared by the requests (Excluded), built once. Median wall and CPU ms per query on one thread,
both ways in this process (alternated, three rounds), and recall@10 against exact search over the allowed courses.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Set as AbstractSet

import faiss
import numpy as np

from adapters.faiss_index import FaissIndex
from benchmarks.retrieval import K, course_latents, learner_latents, vectors
from domain.model import CourseId, Excluded

ROUNDS = 3


def post_filtered(index: FaissIndex, query: np.ndarray, exclude: AbstractSet[CourseId]) -> list:
    """The search as it was: count the excluded ids held, ask for that many more, drop them."""
    vector = query.reshape(1, -1)
    blocked = sum(1 for c in exclude if c in index.rows)
    wanted, asked, params = min(K, index.size - blocked), min(index.size, K + blocked), None
    while True:
        scores, rows = index.index.search(vector, asked, params=params)  # type: ignore[union-attr]
        found = [index.ids[r] for r in rows[0] if r >= 0 and index.ids[r] not in exclude]
        if len(found) >= wanted or (asked >= index.size and params is not None):
            return found[:K]
        if asked >= index.size:
            if not isinstance(index.index, faiss.IndexIVF):
                return found[:K]
            params = faiss.SearchParametersIVF(nprobe=index.index.nlist)
        asked = min(index.size, asked * 2)


def timed(search, cases: list) -> tuple[list, list[float], list[float]]:  # type: ignore[no-untyped-def]
    found, wall, cpu = [], [], []
    for query, exclude in cases:
        started, spent = time.perf_counter(), time.thread_time()
        found.append(search(query, exclude))
        wall.append(time.perf_counter() - started)
        cpu.append(time.thread_time() - spent)
    return found, wall, cpu


def median_ms(times: list[float]) -> float:
    return float(np.median(times)) * 1e3


def truth(matrix: np.ndarray, ids: list[CourseId], cases: list) -> list[set[CourseId]]:
    best = []
    for query, exclude in cases:
        order = np.argsort(-(matrix @ query))
        best.append(set([ids[r] for r in order[: K + len(exclude)] if ids[r] not in exclude][:K]))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    print(f"faiss {faiss.__version__}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(
        f"{'courses':>9}  {'index':<16} {'left out':<22} {'before ms':>9} {'after ms':>9} "
        f"{'ratio':>6} {'cpu before':>10} {'cpu after':>9} {'recall b/a':>11} {'short b/a':>9}"
    )
    rng = np.random.default_rng(0)
    for n in args.sizes:
        latent = course_latents(n, rng)
        matrix = vectors(latent)
        learners = vectors(learner_latents(latent, args.queries, rng))
        ids = [CourseId(str(i)) for i in range(n)]
        index = FaissIndex()
        faiss.omp_set_num_threads(2)
        index.build(ids, matrix)
        faiss.omp_set_num_threads(1)
        everyone = frozenset(ids)
        at_random = everyone - {ids[i] for i in rng.permutation(n)[: n // 20]}
        region = np.argsort(-(latent @ latent[rng.integers(n)]))[: n // 20]
        in_region = everyone - {ids[i] for i in region}
        own = [frozenset(ids[i] for i in rng.integers(0, n, 20)) for _ in learners]
        kinds = {
            "nothing": [frozenset() for _ in learners],
            "filter: 5% at random": [Excluded(frozenset(), at_random) for _ in learners],
            "filter: 5% one region": [Excluded(frozenset(), in_region) for _ in learners],
            "the learner's own 20": [Excluded(o) for o in own],
        }
        for label, excludes in kinds.items():
            cases = list(zip(learners, excludes, strict=True))
            best = truth(matrix, ids, cases)
            wall, cpu, wall_b, cpu_b = [], [], [], []
            for _ in range(ROUNDS):  # alternated, so that a spell of load falls on both
                after, *times = timed(
                    lambda q, e, index=index: [c for c, _ in index.search(q, K, e)], cases
                )
                wall, cpu = wall + times[0], cpu + times[1]
                before, *times = timed(lambda q, e, index=index: post_filtered(index, q, e), cases)
                wall_b, cpu_b = wall_b + times[0], cpu_b + times[1]
            recalls = [
                np.mean([len(set(f) & b) / K for f, b in zip(found, best, strict=True)])
                for found in (before, after)
            ]
            shorts = [sum(len(f) < K for f in found) for found in (before, after)]
            print(
                f"{n:>9,}  {index.kind:<16} {label:<22} {median_ms(wall_b):>9.3f} "
                f"{median_ms(wall):>9.3f} {median_ms(wall_b) / median_ms(wall):>6.1f} "
                f"{median_ms(cpu_b):>10.3f} {median_ms(cpu):>9.3f} "
                f"{recalls[0]:>5.3f}/{recalls[1]:.3f} {shorts[0]:>4}/{shorts[1]}",
                flush=True,
            )
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
