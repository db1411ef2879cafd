"""Hybrid weights tuned on a validation split of the TRAINING part only (the test part is not read).

    .venv/bin/python -m benchmarks.tune_hybrid --data-dir ../shared/data --dataset ml-100k|cnpc

Each component is fitted once on the inner training part and asked once for its candidates; each
weight setting then only re-blends those lists, so a grid of dozens of settings takes seconds.
item_cf keeps weight 1 (it is the strongest component); the others range over a small grid.
"""

from __future__ import annotations

import argparse
import itertools
from collections import defaultdict
from pathlib import Path

from application.evaluation.dataset import Dataset
from application.evaluation.metrics import ndcg_at_k
from application.evaluation.splits import random_split
from application.hybrid import HybridRecommender
from benchmarks.tune_peer import validation_dataset
from domain.model import LearnerHistory
from entrypoints.config import load_settings
from entrypoints.container import Container

GRID = (0.0, 0.1, 0.25, 0.5)
OTHERS = ("two_tower", "content", "popularity")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--dataset", choices=["ml-100k", "cnpc"], default="ml-100k")
    args = parser.parse_args()
    data: Dataset = validation_dataset(args.dataset, args.data_dir)
    inner = random_split(data.interactions, 0.8, seed=7)
    container = Container()
    container.config.from_dict(load_settings({"RS_DATABASE_URL": "memory://"}))
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
    for name in ("item_cf", *OTHERS):
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
    for values in itertools.product(GRID, repeat=len(OTHERS)):
        weights = {"item_cf": 1.0, **dict(zip(OTHERS, values, strict=True))}
        active = {n: w for n, w in weights.items() if w > 0}
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
