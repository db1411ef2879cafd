"""Training batches as arrays: histories cut, encoded and turned into targets without per-course Python.

The learner bags built here equal LearnerFeatures.history_bag's (a unit test holds them together);
that one serves single requests, this one builds 256 learners' bags a few hundred times an epoch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from adapters.two_tower.features import Bag, bucket

Part = tuple[np.ndarray, np.ndarray]  # course rows in the order taken, and their weights


class HistoryArrays:
    """Each learner's history as (course rows, weights), and the bucket of every course feature."""

    def __init__(
        self,
        histories: Mapping[str, Mapping[str, float]],
        index: Mapping[str, int],
        categories: Mapping[str, str],
        buckets: int,
        recency_decay: float,
    ) -> None:
        self.parts: dict[str, Part] = {
            user: (
                np.fromiter((index[c] for c in history), np.int64, len(history)),
                np.fromiter(history.values(), np.float64, len(history)),
            )
            for user, history in histories.items()
        }
        ids = sorted(index, key=index.__getitem__)
        self.course_bucket = np.array([bucket(f"course={c}", buckets) for c in ids], np.int64)
        self.category_bucket = np.array(
            [
                bucket(f"category={categories[c].lower()}", buckets) if c in categories else -1
                for c in ids
            ],
            np.int64,
        )
        self.recency_decay = recency_decay

    def bag(self, parts: Sequence[Part]) -> Bag:
        """Like LearnerFeatures.history_bag: per course its id bucket with the course's share of
        the history's weight, then its category bucket at half that share."""
        lengths = np.array([len(rows) for rows, _ in parts], dtype=np.int64)
        rows = np.concatenate([r for r, _ in parts]) if parts else np.zeros(0, np.int64)
        weights = np.concatenate([w for _, w in parts]) if parts else np.zeros(0)
        learner = np.repeat(np.arange(len(parts)), lengths)
        first = np.repeat(np.cumsum(lengths) - lengths, lengths)
        age = np.repeat(lengths, lengths) - 1 - (np.arange(len(rows)) - first)
        even = _share(weights, learner, len(parts))
        features = np.stack([self.course_bucket[rows], self.category_bucket[rows]], axis=1)
        present = features >= 0
        per_learner = np.bincount(learner, present.sum(axis=1), minlength=len(parts))
        offsets = np.concatenate([[0], np.cumsum(per_learner)[:-1]]).astype(np.int64)
        half = np.array([1.0, 0.5])
        recent = None
        if self.recency_decay < 1.0:
            late = _share(weights * self.recency_decay**age, learner, len(parts))
            recent = (late[:, None] * half)[present].astype(np.float32)
        return Bag(
            features[present],
            offsets,
            (even[:, None] * half)[present].astype(np.float32),
            recent,
        )


def _share(weights: np.ndarray, learner: np.ndarray, learners: int) -> np.ndarray:
    totals = np.bincount(learner, weights, minlength=learners)
    totals[totals == 0] = 1.0
    return weights / totals[learner]


def subset_bag(bag: Bag, rows: np.ndarray) -> Bag:
    """The bags of `rows` only (the catalog's bag restricted to a batch's candidate courses)."""
    ends = np.append(bag.offsets[1:], len(bag.indices))
    lengths = ends[rows] - bag.offsets[rows]
    starts = np.repeat(bag.offsets[rows] - (np.cumsum(lengths) - lengths), lengths)
    positions = np.arange(int(lengths.sum())) + starts
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return Bag(bag.indices[positions], offsets, bag.weights[positions])


def target_matrix(parts: Sequence[Part], columns: np.ndarray | None, width: int) -> torch.Tensor:
    """Each learner's wanted courses as a distribution (weights summing to 1) over the columns:
    the whole catalog (columns None) or the sorted candidate course rows."""
    lengths = [len(rows) for rows, _ in parts]
    rows = np.concatenate([r for r, _ in parts])
    weights = np.concatenate([w for _, w in parts])
    learner = np.repeat(np.arange(len(parts)), lengths)
    cols = rows if columns is None else np.searchsorted(columns, rows)
    target = torch.zeros(len(parts), width)
    target[torch.from_numpy(learner), torch.from_numpy(cols)] = torch.from_numpy(
        _share(weights, learner, len(parts)).astype(np.float32)
    )
    return target
