"""Each two_tower member's validation recall@10 per epoch on a real data set's training part, and
where early stopping would stop it with `min_patience` (the shipped rule) and with the old fixed
patience: what the early-stopping settings were chosen from.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python -m benchmarks.two_tower_curves cnpc
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python -m benchmarks.two_tower_curves ml-100k \
        --config configs/two_tower_unordered.yaml
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from adapters.datasets import CnpcSource, MovieLensSource
from adapters.two_tower.trainer import TwoTowerTrainer
from adapters.two_tower.training import patience_after
from application.use_cases.train_two_tower import strongest_events
from entrypoints.config import two_tower_settings

SOURCES = {"cnpc": (CnpcSource, "cnpc-canvas-network"), "ml-100k": (MovieLensSource, "ml-100k")}


def stop(curve: list[float], patience: int, min_patience: int) -> tuple[int, int]:
    """(the epoch training stops at, the best epoch) under the shipped rule."""
    best, best_epoch, stale = float("-inf"), 0, 0
    for epoch, recall in enumerate(curve, 1):
        if recall > best:
            best, best_epoch, stale = recall, epoch, 0
        else:
            stale += 1
            if stale >= patience_after(best_epoch, patience, min_patience):
                return epoch, best_epoch
    return len(curve), best_epoch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", choices=sorted(SOURCES))
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--config", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    source, folder = SOURCES[args.dataset]
    data = source(Path(args.data_dir) / folder).load()
    histories, _ = strongest_events(data.interactions)
    settings = two_tower_settings({}, args.config)
    patience = int(settings.get("patience", 15))
    # every epoch is run (fixed patience), so both rules can be replayed on the same curves
    curves: list[list[float]] = []

    def progress(epoch: int, epochs: int, loss: float, recall: float) -> None:
        if epoch == 1:
            curves.append([])
        curves[-1].append(recall)

    started = time.perf_counter()
    TwoTowerTrainer({**settings, "min_patience": patience}).fit(data.courses, histories, progress)
    print(f"{args.dataset}: trained {len(curves)} members in {time.perf_counter() - started:.1f}s")
    for member, curve in enumerate(curves, 1):
        for rule, low in (
            ("fixed patience", patience),
            ("min_patience", settings.get("min_patience", 5)),
        ):
            stopped, best = stop(curve, patience, int(low))
            print(
                f"member {member}, {rule:>14}: stops at epoch {stopped}, best epoch {best} "
                f"(recall@10 {curve[best - 1]:.4f})"
            )
        print("  curve: " + " ".join(f"{r:.3f}" for r in curve))


if __name__ == "__main__":
    main()
