"""Grid search for the implicit peer's settings on a validation split of the TRAINING part only.

    .venv/bin/python -m benchmarks.tune_peer --data-dir ../shared/data [--dataset ml-100k|cnpc]

The outer split is the evaluation's (ml-100k: random 75/25 seed 42; cnpc: the fixed split); its
training part is split again per learner (80/20: at random with seed 7 for ml-100k, by time for
cnpc) and each setting is fitted on the 80% and scored by NDCG@10 on the 20%. The test part is
never looked at.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from adapters.implicit_peer import ImplicitRecommender
from application.use_cases.evaluate_strategies import EvaluateStrategies, EvaluationQuery
from benchmarks.validation import inner_protocol, validation_dataset

GRIDS = {
    "als": {
        "factors": [32, 64, 128],
        "regularization": [0.01, 0.05, 0.2],
        "alpha": [1.0, 2.0, 5.0, 10.0],
        "iterations": [15],
    },
    "bpr": {
        "factors": [32, 64, 128],
        "learning_rate": [0.01, 0.05, 0.1],
        "regularization": [0.001, 0.01],
        "iterations": [100, 300],
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--dataset", choices=["ml-100k", "cnpc"], default="ml-100k")
    parser.add_argument("--algorithm", choices=["als", "bpr"], nargs="*", default=["als", "bpr"])
    args = parser.parse_args()
    data = validation_dataset(args.dataset, args.data_dir)
    for algorithm in args.algorithm:
        grid = GRIDS[algorithm]
        best = None
        for values in itertools.product(*grid.values()):
            settings = dict(zip(grid, values, strict=True))
            use_case = EvaluateStrategies(
                {"peer": lambda s=settings, a=algorithm: ImplicitRecommender(a, **s)}
            )
            report = use_case.execute(
                EvaluationQuery(
                    data, ["peer"], inner_protocol(args.dataset), k=10, seed=7, ratio=0.8
                )
            )
            ndcg = report.results[0].metrics.ndcg
            print(f"{algorithm} {settings} validation ndcg@10={ndcg:.4f}", flush=True)
            if best is None or ndcg > best[0]:
                best = (ndcg, settings)
        print(
            f"BEST {args.dataset} {algorithm}: {best[1]} validation ndcg@10={best[0]:.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
