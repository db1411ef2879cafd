"""adapters.scoring.top_k (ties at the cut taken in catalog order) against the argpartition-only
version it replaced, in the same process: microseconds per call for one learner's scores.

    .venv/bin/python -m benchmarks.top_k [--courses 10000] [--k 100]

"distinct": random scores; "tied": 50 courses with distinct scores and every other course at 0
(popularity on a young deployment), so the cut falls inside a tie of the whole catalog.
"""

from __future__ import annotations

import argparse
import statistics
import timeit

import numpy as np

from adapters.scoring import top_k


def baseline(scores: np.ndarray, k: int) -> list[int]:
    """top_k before 2026-11-29: which of the tied courses at the cut it keeps depends on the CPU."""
    finite = np.flatnonzero(np.isfinite(scores))
    if finite.size == 0 or k <= 0:
        return []
    k = min(k, finite.size)
    candidates = finite[np.argpartition(-scores[finite], k - 1)[:k]]
    order = np.lexsort((candidates, -scores[candidates]))
    return [int(i) for i in candidates[order]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--courses", type=int, default=10_000)
    parser.add_argument("--k", type=int, default=100)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    tied = np.zeros(args.courses)
    tied[:50] = np.arange(1, 51)
    for name, scores in (("distinct", rng.random(args.courses)), ("tied", tied)):
        figures = {}
        for label, function in (("before", baseline), ("after", top_k)):
            runs = timeit.repeat(lambda f=function, s=scores: f(s, args.k), number=200, repeat=7)
            figures[label] = 1e6 * statistics.median(runs) / 200
        print(
            f"{name}: before {figures['before']:.1f} us, after {figures['after']:.1f} us "
            f"({figures['after'] / figures['before']:.2f}x); same list: "
            f"{baseline(scores, args.k) == top_k(scores, args.k)}"
        )


if __name__ == "__main__":
    main()
