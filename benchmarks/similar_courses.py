"""content's /similar list, keeping only courses that share a subject word or the category with
the course (picked from its 3k closest), against the plain k closest it replaced, in the same
process: milliseconds per call, alternated rounds, medians; and how many courses a list holds.

    .venv/bin/python -m benchmarks.similar_courses [--courses 10000] [--k 10] [--rounds 7]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from adapters.scoring import ScoringRecommender
from adapters.tfidf import ContentRecommender
from benchmarks.serving_data import catalog


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--courses", type=int, default=10_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    courses = catalog(args.courses, 7)
    content = ContentRecommender()
    content.fit(courses, [])
    asked = [c.course_id for c in random.Random(3).sample(courses, 300)]
    kept = ContentRecommender.closest
    ways = {"plain": ScoringRecommender.closest, "kept alike": kept}
    ms: dict[str, list[float]] = {name: [] for name in ways}
    sizes: dict[str, list[int]] = {}
    for _ in range(args.rounds):
        for name, closest in ways.items():
            ContentRecommender.closest = closest  # type: ignore[method-assign]
            began = time.perf_counter()
            sizes[name] = [len(content.similar(c, args.k)) for c in asked]
            ms[name].append((time.perf_counter() - began) / len(asked) * 1000)
    ContentRecommender.closest = kept  # type: ignore[method-assign]
    medians = {name: statistics.median(v) for name, v in ms.items()}
    for name, median in medians.items():
        short = sum(size < args.k for size in sizes[name])
        print(
            f"{name}: {median:.3f} ms a call; lists shorter than {args.k}: {short} of {len(asked)}"
        )
    print(f"ratio {medians['kept alike'] / medians['plain']:.2f} ({args.courses} courses)")


if __name__ == "__main__":
    main()
