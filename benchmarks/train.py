"""Two-tower training seconds per epoch on MovieLens-100K (random 75/25 training part).

.venv/bin/python -m benchmarks.train --data-dir ../shared/data/ml-100k [--epochs 10]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import torch

from adapters.datasets import MovieLensSource
from adapters.two_tower.trainer import configs
from adapters.two_tower.training import train_two_tower
from application.use_cases.evaluate_strategies import EvaluateStrategies, EvaluationQuery
from entrypoints.config import two_tower_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/ml-100k"))
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    data = MovieLensSource(args.data_dir).load()
    train = EvaluateStrategies.split(EvaluationQuery(data, [], "random", seed=42)).train
    histories: dict[str, dict[str, float]] = defaultdict(dict)
    for event in train:
        histories[event.user_id][event.course_id] = 1.0
    tower, config = configs(
        {
            **two_tower_settings({}),
            "epochs": args.epochs,
            "patience": args.epochs,
            "min_patience": args.epochs,
        }
    )
    stamps: list[float] = []
    started = time.perf_counter()
    train_two_tower(
        data.courses,
        histories,
        tower,
        config,
        progress=lambda *_: stamps.append(time.perf_counter()),
    )
    total = time.perf_counter() - started
    per_epoch = [b - a for a, b in zip([started, *stamps], stamps, strict=False)]
    print(
        f"MovieLens-100K: {len(histories)} learners, {len(data.courses)} items, {len(train)} training pairs"
    )
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, config {tower}, batch {config.batch_size}"
    )
    print(
        f"{args.epochs} epochs in {total:.2f}s: {sum(per_epoch) / len(per_epoch):.3f} s/epoch "
        f"(first {per_epoch[0]:.3f}, fastest {min(per_epoch):.3f}), validation included"
    )


if __name__ == "__main__":
    main()
