"""Hybrid weights tuned on a validation split of the TRAINING part only (the test part is not read).
The inner split is benchmarks.validation's (random for ml-100k, by time for cnpc).

    .venv/bin/python -m benchmarks.tune_hybrid --data-dir ../shared/data --dataset ml-100k|cnpc \
        [--two-tower-config configs/two_tower_unordered.yaml]

Each component is fitted once on the inner training part and asked once for its candidates; each
weight setting then only re-blends those lists, so a grid of dozens of settings takes seconds.
The two collaborative components (item_cf, two_tower) range over {0, 0.25, 0.5, 1}, content and
popularity over {0, 0.1, 0.25}; the weights are renormalised, as the service does.
"""

from __future__ import annotations

import argparse
import itertools
from collections import defaultdict
from pathlib import Path

from application.evaluation.dataset import Dataset
from application.evaluation.metrics import ndcg_at_k
from application.hybrid import HybridRecommender
from application.use_cases.evaluate_strategies import EvaluateStrategies, EvaluationQuery
from benchmarks.validation import inner_protocol, validation_dataset
from domain.model import LearnerHistory
from entrypoints.config import load_settings
from entrypoints.container import Container

GRID = {
    "item_cf": (0.0, 0.25, 0.5, 1.0),
    "two_tower": (0.0, 0.25, 0.5, 1.0),
    "content": (0.0, 0.1, 0.25),
    "popularity": (0.0, 0.1, 0.25),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--dataset", choices=["ml-100k", "cnpc"], default="ml-100k")
    parser.add_argument("--two-tower-config", type=Path, default=Path("configs/two_tower.yaml"))
    args = parser.parse_args()
    data: Dataset = validation_dataset(args.dataset, args.data_dir)
    inner = EvaluateStrategies.split(
        EvaluationQuery(data, [], inner_protocol(args.dataset), seed=7, ratio=0.8)
    )
    container = Container()
    container.config.from_dict(
        load_settings(
            {"RS_DATABASE_URL": "memory://", "RS_TWO_TOWER_CONFIG": str(args.two_tower_config)}
        )
    )
    factories = container.evaluation_factories()
    histories: dict = defaultdict(list)
    for event in inner.train:
        histories[event.user_id].append(event)
    truth: dict = defaultdict(set)
    for event in inner.test:
        truth[event.user_id].add(event.course_id)
    users = sorted(u for u in truth if u in histories)
    learners = [LearnerHistory(u, tuple(histories[u])) for u in users]
    excludes = [learner.seen() for learner in learners]
    lists = {}
    for name in GRID:
        component = factories[name]()
        component.fit(data.courses, inner.train)
        lists[name] = component.recommend_many(learners, 100, excludes, explain=False)
        ndcg = sum(
            ndcg_at_k([r.course_id for r in lists[name][i]], truth[u], 10)
            for i, u in enumerate(users)
        ) / len(users)
        print(f"{name}: validation ndcg@10={ndcg:.4f}", flush=True)
    hybrid = HybridRecommender({}, {})
    best = None
    for values in itertools.product(*GRID.values()):
        weights = dict(zip(GRID, values, strict=True))
        active = {n: w for n, w in weights.items() if w > 0}
        if not active:
            continue
        total = sum(active.values())
        normalised = {n: w / total for n, w in active.items()}
        ndcg = 0.0
        for i, user in enumerate(users):
            blended = hybrid.blend({n: lists[n][i] for n in normalised}, normalised, 10)
            ndcg += ndcg_at_k([r.course_id for r in blended], truth[user], 10)
        ndcg /= len(users)
        if best is None or ndcg > best[0]:
            best = (ndcg, weights)
            print(f"better: {weights} validation ndcg@10={ndcg:.4f}", flush=True)
    weights = ",".join(f"{n}:{w}" for n, w in best[1].items() if w > 0)
    print(f"BEST {args.dataset}: --weights {weights} (validation ndcg@10={best[0]:.4f})")


if __name__ == "__main__":
    main()
