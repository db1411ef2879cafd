"""Two-tower training seconds at a larger catalog, before and after the array-built batches.

    nice -n 10 .venv/bin/python -m benchmarks.train_scale [--courses 8000] [--learners 10000]
        [--events 100000] [--epochs 3] [--threads 1]

Data from benchmarks.serving_data (seeded). "before" is adapters/two_tower/training.py as it was at
BASELINE (read from git), "after" the working tree's; both train one member of the shipped config
(configs/two_tower.yaml) for --epochs epochs with early stopping off, one after the other in this
process, so their seconds per epoch compare. Then the shipped config is trained as `recsys
train-two-tower` trains it (three members, early stopping) with the new code, and its total
seconds and best validation recall@10 are printed; with --full-before the old code does the
same (about 20 minutes). --compare-threads repeats "after" with other torch thread counts.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import types
from pathlib import Path

import torch

from adapters.two_tower import training
from adapters.two_tower.trainer import configs
from benchmarks.serving_data import synthesise
from domain.model import DEFAULT_EVENT_WEIGHTS
from entrypoints.config import two_tower_settings

BASELINE = "39048bc"  # the branch point: full softmax, Python-built batches, argsort validation


def baseline_module() -> types.ModuleType:
    root = Path(__file__).resolve().parents[1]
    source = subprocess.run(
        ["git", "show", f"{BASELINE}:adapters/two_tower/training.py"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = types.ModuleType("two_tower_training_before")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{BASELINE}:training.py", "exec"), module.__dict__)  # noqa: S102
    return module


def run(module: types.ModuleType, data, histories, settings: dict) -> tuple[float, dict]:  # type: ignore[no-untyped-def]
    tower, config = configs(settings)
    if not hasattr(module.TrainConfig, "threads"):
        config = module.TrainConfig(
            **{
                k: v
                for k, v in vars(config).items()
                if k in module.TrainConfig.__dataclass_fields__
            }
        )
    started = time.perf_counter()
    runs = [
        module.train_two_tower(
            data.courses, histories, tower, type(config)(**{**vars(config), "seed": 42 + i})
        )
        for i in range(tower.members)
    ]
    seconds = time.perf_counter() - started
    epochs = sum(r.metrics["epochs_run"] for r in runs)
    recall = sum(r.metrics["validation_recall@10"] for r in runs) / len(runs)
    return seconds, {"epochs": epochs, "recall": recall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--courses", type=int, default=8_000)
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--full-before", action="store_true")
    parser.add_argument("--compare-threads", type=int, nargs="*", default=[2])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = synthesise(args.courses, args.learners, args.events, seed=7)
    histories = {
        u: {c: DEFAULT_EVENT_WEIGHTS[e] for c, e in h.items()} for u, h in data.histories().items()
    }
    print(
        f"{len(data.courses):,} courses, {len(histories):,} learners, {len(data.users):,} events, "
        f"{sum(len(h) for h in histories.values()):,} (learner, course) pairs; "
        f"torch {torch.__version__}, {args.threads} thread(s)"
    )
    shipped = {**two_tower_settings({}), "threads": args.threads}
    short = {
        **shipped,
        "members": 1,
        "epochs": args.epochs,
        "patience": args.epochs,
        "min_patience": args.epochs,
    }
    before = baseline_module()
    rows = []
    for name, module in (("before", before), ("after", training)):
        seconds, result = run(module, data, histories, short)
        rows.append(seconds / result["epochs"])
        print(
            f"{name:>6}: {seconds:7.1f} s for {result['epochs']:.0f} epochs of one member, "
            f"{rows[-1]:.2f} s/epoch, validation recall@10 {result['recall']:.3f}",
            flush=True,
        )
    print(f"speed-up per epoch: {rows[0] / rows[1]:.1f}x")
    for threads in args.compare_threads:
        seconds, result = run(training, data, histories, {**short, "threads": threads})
        print(f" after, {threads} thread(s): {seconds / result['epochs']:.2f} s/epoch", flush=True)
    # The shipped early stopping (wait as long as the best took, 5..15 epochs) against waiting
    # the full 15 epochs after the best, as before min_patience.
    fixed = {**shipped, "min_patience": shipped.get("patience", 15)}
    runs = [("after", training, shipped), ("after, fixed patience", training, fixed)]
    if args.full_before:
        runs.append(("before", before, shipped))
    for name, module, settings in runs:
        seconds, result = run(module, data, histories, settings)
        print(
            f"{name:>6}, shipped config (3 members, early stopping): {seconds:.1f} s, "
            f"{result['epochs']:.0f} epochs, mean best validation recall@10 {result['recall']:.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
