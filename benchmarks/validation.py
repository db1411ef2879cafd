"""What the tuners validate on: the evaluation's TRAINING part, split again the way the evaluation
splits (the test part is never read)."""

from __future__ import annotations

from pathlib import Path

from adapters.datasets import CnpcSource, MovieLensSource
from application.evaluation.dataset import Dataset
from application.use_cases.evaluate_strategies import EvaluateStrategies, EvaluationQuery


def validation_dataset(name: str, data_dir: Path) -> Dataset:
    """The training part of the evaluation's split (ml-100k: random 75/25 seed 42; cnpc: fixed)."""
    if name == "ml-100k":
        data = MovieLensSource(data_dir / "ml-100k").load()
        train = EvaluateStrategies.split(EvaluationQuery(data, [], "random", seed=42)).train
    else:
        data = CnpcSource(data_dir / "cnpc-canvas-network").load()
        train = data.interactions
    return Dataset(f"{name}-validation", data.courses, train)


def inner_protocol(name: str) -> str:
    """How the training part is split again for validation: like the evaluation's own split.
    CNPC's test part is a later term, so its validation holds out each learner's latest 20%
    (popularity's recall: 0.045 on the real test, 0.074 on the latest 20%, 0.14 on a random 20%)."""
    return "temporal" if name == "cnpc" else "random"
