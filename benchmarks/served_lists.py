"""Every strategy's served lists for many learners, one JSON line each, so that two versions of
the code can be compared with `diff` (a speed-up must not change what learners see).

    python -m benchmarks.served_lists --learners 20000 > var/before.jsonl   # on the old code
    python -m benchmarks.served_lists --learners 20000 > var/after.jsonl    # on the new code
    diff var/before.jsonl var/after.jsonl && echo identical

Reads the data and published models of benchmarks.serving (run that first); records nothing.
Scores are written with repr(), so a difference in the last bit shows.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import UTC, datetime

from benchmarks.serving import STRATEGIES, container_for

#: query variants beside the plain one: the ranking stage's rules and per-request weights
VARIANTS = (
    {},
    {"strict_prerequisites": True},
    {"k": 25},
    {"weights": {"item_cf": 1.0, "content": 0.5, "two_tower": 2.0, "sequence": 0.3}},
    {"weights": {"popularity": 0.2, "two_tower": 1.0}},
)


def main() -> None:
    from application.use_cases.find_similar import FindSimilarQuery
    from application.use_cases.recommend_home import RecommendHomeQuery
    from domain.model import CourseId, UserId

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="sqlite:///var/bench/serving.db")
    parser.add_argument("--models", default="var/bench/models")
    parser.add_argument("--learners", type=int, default=20_000, help="how many learners exist")
    parser.add_argument("--sample", type=int, default=300, help="learners asked, per variant")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    container = container_for(args.url, args.models, refresh_seconds=3600)
    home = container.recommend_home()
    home.clock = lambda: datetime(2026, 11, 29, 12, tzinfo=UTC)  # time words do not drift
    snapshot = container.strategies().snapshot()
    rng = random.Random(args.seed)
    users = [f"learner{rng.randrange(args.learners)}" for _ in range(args.sample)] + ["nobody"]
    for strategy in STRATEGIES:
        for variant in VARIANTS:
            if "weights" in variant and strategy != "hybrid":
                continue
            for user in users:
                query = RecommendHomeQuery(UserId(user), strategy=strategy, record=False)
                result = home.execute(RecommendHomeQuery(**{**_fields(query), **variant}))
                items = [
                    (r.course_id, repr(r.score), r.rank, r.strategy, r.reason, r.via)
                    for r in result.slate.items
                ]
                line = [strategy, variant, user, result.slate.strategy, items]
                print(json.dumps([*line, result.slate.fallback_from]))
    similar = container.find_similar()
    for course_id in rng.sample(sorted(snapshot.courses), 50):
        for strategy in STRATEGIES:
            found = similar.execute(FindSimilarQuery(CourseId(course_id), 10, strategy))
            items = [
                (s.recommendation.course_id, repr(s.recommendation.score), s.recommendation.reason)
                for s in found.items
            ]
            print(json.dumps(["similar", strategy, course_id, found.strategy, items]))
    container.engine().dispose()


def _fields(query: object) -> dict[str, object]:
    return {name: getattr(query, name) for name in query.__slots__}  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
