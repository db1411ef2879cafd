"""The learner tower in numpy: what a web worker runs per request, without importing torch.

The trainer exports each member's history table, user-id table and MLP weights (learner_tower.npz);
a forward pass is a weighted sum of table rows, the MLP with exact GELU, and L2 normalisation,
the same arithmetic as TwoTowerModel.users() in evaluation mode (dropout off).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import erf

from adapters.two_tower.features import Bag

FILE = "learner_tower.npz"


@dataclass(frozen=True)
class Member:
    history: np.ndarray  # (buckets, width)
    user_id: np.ndarray  # (user_buckets, user_feature_dim)
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]  # (weight (out, in), bias (out,))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def _pool(table: np.ndarray, bag: Bag, weights: np.ndarray) -> np.ndarray:
    """torch.nn.EmbeddingBag(mode="sum") with per-sample weights."""
    width = table.shape[1]
    pooled = np.zeros((len(bag.offsets), width), dtype=np.float32)
    if bag.indices.size:
        rows = np.repeat(
            np.arange(len(bag.offsets)), np.diff(np.append(bag.offsets, bag.indices.size))
        )
        # Element by element on the flat array: ufunc.at adds in index order either way, the
        # same sums, but numpy's fast path takes a fifth of the time of whole rows.
        slots = (rows[:, None] * width + np.arange(width)).ravel()
        np.add.at(pooled.ravel(), slots, (table[bag.indices] * weights[:, None]).ravel())
    return pooled


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class LearnerTower:
    members: tuple[Member, ...]
    recency: bool

    def users(self, history: Bag, user_buckets: np.ndarray) -> np.ndarray:
        known = (user_buckets >= 0)[:, None].astype(np.float32)
        outputs = []
        for member in self.members:
            parts = [_pool(member.history, history, history.weights)]
            if self.recency:
                assert history.recent is not None, "recency-weighted model needs recent weights"
                parts.append(_pool(member.history, history, history.recent))
            parts.append(member.user_id[np.maximum(user_buckets, 0)] * known)
            x = np.concatenate(parts, axis=-1)
            for i, (weight, bias) in enumerate(member.layers):
                x = x @ weight.T + bias
                if i < len(member.layers) - 1:
                    x = _gelu(x)
            outputs.append(_normalise(x))
        return np.concatenate(outputs, axis=-1) / np.sqrt(len(self.members))

    def check(self, buckets: int, user_buckets: int) -> None:
        """One learner through every member, reading the last row of each table the features
        hash into (ValueError otherwise): the arrays load whatever their shapes, and a table or
        layer of another shape than the manifest says failed every request the tower answered."""
        probe = Bag(
            np.array([0, buckets - 1], dtype=np.int64),
            np.zeros(1, dtype=np.int64),
            np.ones(2, dtype=np.float32),
            np.ones(2, dtype=np.float32) if self.recency else None,
        )
        # joined whatever their widths, one member's short vector would not meet the courses'
        widths = sorted({member.layers[-1][0].shape[0] for member in self.members})
        if len(widths) > 1:
            raise ValueError(f"{FILE} does not fit its manifest: members of widths {widths}")
        try:
            vector = self.users(probe, np.array([user_buckets - 1], dtype=np.int64))
        except (IndexError, ValueError) as error:
            raise ValueError(f"{FILE} does not fit its manifest: {error}") from None
        if not np.isfinite(vector).all():
            raise ValueError(f"{FILE} gives a learner a vector that is not finite")

    def to_bytes(self) -> bytes:
        """float16 on disk (half the bytes); from_bytes computes in float32 again."""
        arrays: dict[str, np.ndarray] = {}
        for i, member in enumerate(self.members):
            arrays[f"m{i}.history"] = member.history.astype(np.float16)
            arrays[f"m{i}.user_id"] = member.user_id.astype(np.float16)
            for j, (weight, bias) in enumerate(member.layers):
                arrays[f"m{i}.w{j}"] = weight.astype(np.float16)
                arrays[f"m{i}.b{j}"] = bias.astype(np.float16)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, tower: Mapping[str, Any]) -> LearnerTower:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            loaded = {name: arrays[name].astype(np.float32) for name in arrays.files}
        members = []
        for i in range(int(tower.get("members", 1))):
            layers = []
            while f"m{i}.w{len(layers)}" in loaded:
                j = len(layers)
                layers.append((loaded[f"m{i}.w{j}"], loaded[f"m{i}.b{j}"]))
            if f"m{i}.history" not in loaded or not layers:
                raise ValueError(f"{FILE} lacks member {i}")
            members.append(Member(loaded[f"m{i}.history"], loaded[f"m{i}.user_id"], tuple(layers)))
        learner_tower = cls(tuple(members), float(tower.get("recency_decay", 1.0)) < 1.0)
        learner_tower.check(
            int(tower.get("buckets", 1 << 15)), int(tower.get("user_buckets", 1 << 14))
        )
        return learner_tower
