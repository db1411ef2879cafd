"""Validation recall@10 for early stopping: encoded once, scored each epoch with one top-k."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from adapters.two_tower.batches import HistoryArrays
from adapters.two_tower.features import Bag, LearnerFeatures
from adapters.two_tower.model import TwoTowerModel

K = 10


class Validation:
    """Held-out learners: their input courses are encoded and masked once, their held-out
    courses kept as a boolean matrix, so an epoch's check is one forward pass and a top-k."""

    def __init__(
        self,
        item_bag: Bag,
        arrays: HistoryArrays,
        learner_features: LearnerFeatures,
        inputs: Mapping[str, Mapping[str, float]],
        targets: Mapping[str, set[str]],
        index: Mapping[str, int],
    ) -> None:
        self.item_bag = item_bag
        self.users = sorted(targets)
        parts = [arrays.parts[u] for u in self.users]
        assert all(len(parts[i][0]) == len(inputs[u]) for i, u in enumerate(self.users))
        self.bag = arrays.bag(parts)
        self.user_ids = learner_features.user_ids(self.users)
        self.seen = _rows_and_columns([rows for rows, _ in parts])
        self.wanted = torch.zeros(len(self.users), len(index), dtype=torch.bool)
        held_out = [np.array([index[c] for c in targets[u]]) for u in self.users]
        self.wanted[_rows_and_columns(held_out)] = True
        self.denominator = torch.tensor([min(K, len(targets[u])) for u in self.users]).float()

    @torch.no_grad()
    def recall(self, model: TwoTowerModel) -> float:
        if not self.users:
            return 0.0
        model.eval()
        scores = model.users(self.bag, self.user_ids) @ model.items(self.item_bag).T
        scores[self.seen] = -torch.inf
        top = scores.topk(min(K, scores.shape[1]), dim=1).indices
        hits = self.wanted.gather(1, top).sum(dim=1).float()
        model.train()
        return float((hits / self.denominator).mean())


def _rows_and_columns(columns: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    rows = np.repeat(np.arange(len(columns)), [len(c) for c in columns])
    flat = np.concatenate(columns) if columns else np.zeros(0, np.int64)
    return torch.from_numpy(rows), torch.from_numpy(flat.astype(np.int64))
