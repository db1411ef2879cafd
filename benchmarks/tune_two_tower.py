"""two_tower settings compared on a validation split of the TRAINING part only (test is not read).

    .venv/bin/python -m benchmarks.tune_two_tower --data-dir ../shared/data --dataset cnpc \
        --seeds 1 2 3 --variant shipped --variant order-free objective=all recency_decay=1.0

The inner split cuts the evaluation's training part 80/20 per learner, as every tuner does: at
random (seed 7) for MovieLens, whose evaluation split is random, and by time for CNPC, whose own
test part is a later term.
Each variant is configs/two_tower.yaml plus its overrides, trained once per seed as a single member
(members=1 unless the variant sets it), and scored by Recall@10 and NDCG@10 on the held-out 20%.
Single runs vary with the seed, so the mean over seeds is what to compare.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import yaml

from adapters.two_tower.recommender import TwoTowerRecommender
from adapters.two_tower.trainer import TwoTowerTrainer
from application.use_cases.evaluate_strategies import EvaluateStrategies, EvaluationQuery
from benchmarks.validation import inner_protocol, validation_dataset
from entrypoints.config import two_tower_settings


def parse_variant(words: list[str]) -> tuple[str, dict[str, object]]:
    name, *pairs = words
    overrides = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        overrides[key] = yaml.safe_load(value)
    return name, overrides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--dataset", choices=["ml-100k", "cnpc"], default="cnpc")
    parser.add_argument("--config", type=Path, default=Path("configs/two_tower.yaml"))
    parser.add_argument("--protocol", choices=["random", "temporal"], default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--variant", nargs="+", action="append", metavar="NAME [KEY=VALUE ...]", required=True
    )
    args = parser.parse_args()
    data = validation_dataset(args.dataset, args.data_dir)
    base = two_tower_settings({}, args.config)
    protocol = args.protocol or inner_protocol(args.dataset)
    for name, overrides in map(parse_variant, args.variant):
        recalls, ndcgs = [], []
        for seed in args.seeds:
            settings = {**base, "members": 1, **overrides, "seed": seed}
            use_case = EvaluateStrategies(
                {"two_tower": lambda s=settings: TwoTowerRecommender(trainer=TwoTowerTrainer(s))}
            )
            report = use_case.execute(
                EvaluationQuery(data, ["two_tower"], protocol, k=10, seed=7, ratio=0.8)
            )
            result = report.results[0]
            recalls.append(result.metrics.recall)
            ndcgs.append(result.metrics.ndcg)
            print(
                f"  {name} seed {seed}: recall@10={recalls[-1]:.4f} ndcg@10={ndcgs[-1]:.4f}"
                f" ({result.fit_seconds:.0f} s)",
                flush=True,
            )
        spread = statistics.stdev(recalls) if len(recalls) > 1 else 0.0
        print(
            f"{name} {overrides}: validation recall@10 {statistics.mean(recalls):.4f}"
            f" ± {spread:.4f}, ndcg@10 {statistics.mean(ndcgs):.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
