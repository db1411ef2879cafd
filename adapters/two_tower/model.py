"""The two towers: hashed-feature bags through MLPs to L2-normalised embeddings."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from adapters.two_tower.features import Bag


@dataclass(frozen=True)
class TowerConfig:
    """Everything needed to rebuild the architecture; saved in each artifact's manifest."""

    embedding_dim: int = 64
    user_feature_dim: int = 16
    item_feature_dim: int = 32
    hidden_dims: tuple[int, ...] = (128,)
    buckets: int = 1 << 15
    user_buckets: int = 1 << 14
    temperature: float = 0.1
    dropout: float = 0.1
    #: weight of a history course per step back in time (1.0: the order taken does not matter)
    recency_decay: float = 1.0
    #: towers trained with different seeds whose scores are averaged (see TowerEnsemble)
    members: int = 1

    def __post_init__(self) -> None:
        if not 0.0 < self.recency_decay <= 1.0:
            raise ValueError(f"recency_decay must be in (0, 1], not {self.recency_decay}")

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "hidden_dims": list(self.hidden_dims)}

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> TowerConfig:
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        known["hidden_dims"] = tuple(known.get("hidden_dims", (128,)))  # type: ignore[arg-type]
        return cls(**known)  # type: ignore[arg-type]


def _mlp(inputs: int, hidden: tuple[int, ...], output: int, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(inputs, width), nn.GELU(), nn.Dropout(dropout)]
        inputs = width
    layers.append(nn.Linear(inputs, output))
    return nn.Sequential(*layers)


def _bag_tensors(bag: Bag) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return (
        torch.from_numpy(bag.indices),
        torch.from_numpy(bag.offsets),
        torch.from_numpy(bag.weights),
    )


class TwoTowerModel(nn.Module):
    def __init__(self, config: TowerConfig) -> None:
        super().__init__()
        self.config = c = config
        width = max(c.item_feature_dim, c.embedding_dim)
        # Sparse gradients: a step touches the rows of the features in the batch, not all buckets.
        self.item_features = nn.EmbeddingBag(c.buckets, width, mode="sum", sparse=True)
        self.history = nn.EmbeddingBag(c.buckets, width, mode="sum", sparse=True)
        self.user_id = nn.Embedding(c.user_buckets, c.user_feature_dim, sparse=True)
        self.item_tower = _mlp(width, c.hidden_dims, c.embedding_dim, c.dropout)
        # With recency weighting the user tower reads the history pooled twice: evenly and by
        # recency; its first layer learns how much the latest courses matter.
        pooled = width * (2 if c.recency_decay < 1.0 else 1)
        self.user_tower = _mlp(
            pooled + c.user_feature_dim, c.hidden_dims, c.embedding_dim, c.dropout
        )
        nn.init.normal_(self.item_features.weight, std=0.05)
        nn.init.normal_(self.history.weight, std=0.05)
        nn.init.normal_(self.user_id.weight, std=0.01)

    def sparse_parameters(self) -> list[nn.Parameter]:
        return [self.item_features.weight, self.history.weight, self.user_id.weight]

    def dense_parameters(self) -> list[nn.Parameter]:
        sparse = {id(p) for p in self.sparse_parameters()}
        return [p for p in self.parameters() if id(p) not in sparse]

    def items(self, bag: Bag) -> torch.Tensor:
        pooled = self.item_features(
            *_bag_tensors(bag)[:2], per_sample_weights=torch.from_numpy(bag.weights)
        )
        return nn.functional.normalize(self.item_tower(pooled), dim=-1)

    def users(self, history: Bag, user_buckets: np.ndarray) -> torch.Tensor:
        indices, offsets, weights = _bag_tensors(history)
        pooled = [self.history(indices, offsets, per_sample_weights=weights)]
        if self.config.recency_decay < 1.0:
            assert history.recent is not None, "recency-weighted model needs recent weights"
            recent = torch.from_numpy(history.recent)
            pooled.append(self.history(indices, offsets, per_sample_weights=recent))
        ids = torch.from_numpy(user_buckets)
        known = (ids >= 0).unsqueeze(-1).float()
        user = self.user_id(ids.clamp(min=0)) * known  # an unseen learner has no id feature
        return nn.functional.normalize(self.user_tower(torch.cat([*pooled, user], dim=-1)), dim=-1)


class TowerEnsemble(nn.Module):
    """Members trained with different seeds. Their unit vectors are concatenated and scaled by
    1/sqrt(n), so one inner product (one FAISS search) is the members' mean cosine similarity:
    averaging smooths out what one training run's early stopping happened to pick."""

    def __init__(self, config: TowerConfig, members: list[TwoTowerModel] | None = None) -> None:
        super().__init__()
        self.config = config
        self.members = nn.ModuleList(
            members or [TwoTowerModel(config) for _ in range(config.members)]
        )
        self.scale = 1.0 / len(self.members) ** 0.5

    @property
    def output_dim(self) -> int:
        return self.config.embedding_dim * len(self.members)

    def items(self, bag: Bag) -> torch.Tensor:
        return torch.cat([m.items(bag) for m in self.members], dim=-1) * self.scale

    def users(self, history: Bag, user_buckets: np.ndarray) -> torch.Tensor:
        return (
            torch.cat([m.users(history, user_buckets) for m in self.members], dim=-1) * self.scale
        )
