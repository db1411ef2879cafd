"""Training: part of each learner's history must predict the rest.

Two objectives. "all" (a denoising autoencoder): a random half of the history predicts the whole
of it, which suits data without a meaningful order. "next": the courses a learner took up to a
random point predict the ones taken after it, which is what a course service is asked to do
(learners move on through a catalog; on CNPC, whose test part is a later term, it is what lifts
two_tower above item_cf). The loss is a multinomial likelihood over the catalog (a full softmax up
to 2,048 courses, a sampled one above) with cosine scores divided by a temperature; early
stopping on validation recall@10, on held-out courses that match the objective.
"""

from __future__ import annotations

import copy
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from adapters.two_tower.batches import HistoryArrays, Part, subset_bag, target_matrix
from adapters.two_tower.features import Bag, CourseFeatures, LearnerFeatures
from adapters.two_tower.model import TowerConfig, TwoTowerModel
from adapters.two_tower.validation import Validation
from application.ports import EpochProgress
from domain.model import DEFAULT_EVENT_WEIGHTS, Course, EventType

OBJECTIVES = ("all", "next")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 60
    batch_size: int = 256
    learning_rate: float = 0.003
    weight_decay: float = 0.0
    input_dropout: float = 0.5
    min_interactions_per_user: int = 1
    validation_users: float = 0.25
    #: "all": a random part of each history predicts the whole of it (order does not matter);
    #: "next": the courses taken up to a random point predict the courses taken after it
    objective: str = "all"
    #: stop after as many epochs without improvement as the best epoch took to reach, at least
    #: min_patience and at most patience (a model that peaks early is not trained 15 epochs more)
    patience: int = 15
    min_patience: int = 5
    seed: int = 42
    #: torch threads while training; 0: one per idle core, at most 2 (see training_threads)
    threads: int = 0
    #: above this many courses a step scores the batch's courses and `negatives` sampled ones
    sampled_softmax_above: int = 2048
    negatives: int = 1024
    event_types: tuple[str, ...] = ("view", "click", "enroll", "complete")

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(
                f"objective must be one of {', '.join(OBJECTIVES)}, not {self.objective!r}"
            )


@dataclass
class Trained:
    model: TwoTowerModel
    trained_users: list[str]
    trained_courses: list[str]
    metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)


def _split_validation(
    users: list[str],
    histories: Mapping[str, Mapping[str, float]],
    config: TrainConfig,
    rng: random.Random,
) -> tuple[dict[str, dict[str, float]], dict[str, set[str]]]:
    """Some learners keep 80% of their courses as input and must find the other 20%: a random 20%
    for the "all" objective, the ones they took last for "next" (histories are in the order taken)."""
    inputs: dict[str, dict[str, float]] = {}
    targets: dict[str, set[str]] = {}
    eligible = [u for u in users if len(histories[u]) >= 5]
    share = int(len(users) * config.validation_users)
    for user in rng.sample(eligible, min(len(eligible), share, 2000)):
        courses = list(histories[user])
        if config.objective == "all":
            courses.sort()
            rng.shuffle(courses)
        cut = len(courses) - max(1, len(courses) // 5)
        inputs[user] = {c: histories[user][c] for c in courses[:cut]}
        targets[user] = set(courses[cut:])
    return inputs, targets


def train_two_tower(
    courses: Sequence[Course],
    histories: Mapping[str, Mapping[str, float]],
    tower: TowerConfig,
    config: TrainConfig,
    event_weights: Mapping[EventType, float] = DEFAULT_EVENT_WEIGHTS,
    progress: EpochProgress | None = None,
) -> Trained:
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    index = {c.course_id: i for i, c in enumerate(courses)}
    users = sorted(
        u
        for u, h in histories.items()
        if len([c for c in h if c in index]) >= config.min_interactions_per_user
    )
    histories = {u: {c: w for c, w in histories[u].items() if c in index} for u in users}
    categories = {c.course_id: c.category for c in courses}
    course_features, learner_features = (
        CourseFeatures(tower.buckets),
        LearnerFeatures(tower.buckets, tower.user_buckets, event_weights, tower.recency_decay),
    )
    item_bag = course_features.encode(courses)
    val_inputs, val_targets = _split_validation(users, histories, config, rng)
    train_histories = {u: val_inputs.get(u, h) for u, h in histories.items()}
    arrays = HistoryArrays(train_histories, index, categories, tower.buckets, tower.recency_decay)

    data = _Data(courses, item_bag, arrays, learner_features, tower)
    validation = Validation(item_bag, arrays, learner_features, val_inputs, val_targets, index)
    threads = torch.get_num_threads()
    torch.set_num_threads(training_threads(config.threads))
    try:
        model, log = _fit(data, users, config, validation, progress)
    finally:
        torch.set_num_threads(threads)
    best = max(log, key=lambda e: e["validation_recall@10"]) if log else None
    metrics = {
        "validation_recall@10": best["validation_recall@10"] if best else 0.0,
        "epochs_run": float(len(log)),
    }
    model.eval()
    return Trained(model, users, [c.course_id for c in courses], metrics, log)


def training_threads(setting: int) -> int:
    """The setting, or (0) one thread per idle core, at most 2 and at least 1: torch's threads
    spin while they wait for each other, so on cores busy with other work two threads ran a
    training epoch 7x slower than one (docs/benchmarks.md, "Two-tower training at 8,000 courses")."""
    if setting:
        return setting
    cores = os.cpu_count() or 1
    idle = cores - os.getloadavg()[0]
    return max(1, min(2, cores, int(idle + 0.5)))


@dataclass(frozen=True)
class _Data:
    """What every epoch reads: the catalog's encoded features and the learners' history arrays."""

    courses: Sequence[Course]
    item_bag: Bag
    histories: HistoryArrays
    learner_features: LearnerFeatures
    tower: TowerConfig


def _fit(
    data: _Data,
    users: list[str],
    config: TrainConfig,
    validation: Validation,
    progress: EpochProgress | None = None,
) -> tuple[TwoTowerModel, list[dict[str, float]]]:
    """A fresh model trained for up to config.epochs; the epoch with the best validation
    recall@10 is kept. Training stops after as many epochs without improvement as the best epoch
    took to reach (at least `min_patience`, at most `patience`): on CNPC the best comes at epochs
    4-6 and never again, on MovieLens-100K at 28-37 (docs/benchmarks.md)."""
    rng = random.Random(config.seed)
    np_rng = np.random.default_rng(config.seed)
    model = TwoTowerModel(data.tower)
    optimisers = [
        torch.optim.SparseAdam(model.sparse_parameters(), lr=config.learning_rate),
        torch.optim.AdamW(
            model.dense_parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
        ),
    ]
    best: tuple[float, dict[str, torch.Tensor]] | None = None
    stale = best_epoch = 0
    log: list[dict[str, float]] = []
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = users[:]
        rng.shuffle(order)
        losses = []
        for start in range(0, len(order), config.batch_size):
            batch = order[start : start + config.batch_size]
            inputs, wanted = _cut(batch, data.histories, config, np_rng)
            loss = _loss(model, data, batch, inputs, wanted, config, np_rng)
            for optimiser in optimisers:
                optimiser.zero_grad()
            loss.backward()
            for optimiser in optimisers:
                optimiser.step()
            losses.append(loss.item())
        mean_loss = float(np.mean(losses)) if losses else 0.0
        recall = validation.recall(model)
        log.append({"epoch": epoch, "loss": mean_loss, "validation_recall@10": recall})
        if progress:
            progress(epoch, config.epochs, mean_loss, recall)
        if best is None or recall > best[0]:
            best, stale, best_epoch = (recall, copy.deepcopy(model.state_dict())), 0, epoch
        else:
            stale += 1
            if stale >= patience_after(best_epoch, config.patience, config.min_patience):
                break
    if best is not None:
        model.load_state_dict(best[1])
    return model, log


def patience_after(best_epoch: int, patience: int, min_patience: int) -> int:
    """Epochs without improvement to wait after the best: as many as the best took to reach, at
    least `min_patience`, at most `patience`."""
    return min(patience, max(min_patience, best_epoch))


def _cut(
    batch: Sequence[str], arrays: HistoryArrays, config: TrainConfig, np_rng: np.random.Generator
) -> tuple[list[Part], list[Part]]:
    """Each learner's history split into what the model reads and what it must predict."""
    inputs, wanted = [], []
    for user in batch:
        rows, weights = arrays.parts[user]
        if config.objective == "next":
            # Cut somewhere after the first course; a learner with one course has only
            # the empty past to predict it from (what learners start with).
            cut = int(np_rng.integers(1, len(rows))) if len(rows) > 1 else 0
            inputs.append((rows[:cut], weights[:cut]))
            wanted.append((rows[cut:], weights[cut:]))
        else:
            kept = np_rng.random(len(rows)) >= config.input_dropout
            inputs.append((rows[kept], weights[kept]))
            wanted.append((rows, weights))
    return inputs, wanted


def _loss(
    model: TwoTowerModel,
    data: _Data,
    batch: Sequence[str],
    inputs: Sequence[Part],
    wanted: Sequence[Part],
    config: TrainConfig,
    np_rng: np.random.Generator,
) -> torch.Tensor:
    """Multinomial likelihood of the wanted courses: over the whole catalog, or above
    config.sampled_softmax_above courses over the batch's wanted courses plus uniformly sampled
    negatives, whose logits count each for catalog/negatives courses (the logQ correction), so
    each step runs the item tower over about 1,500 courses instead of all of them."""
    users = model.users(data.histories.bag(inputs), data.learner_features.user_ids(batch))
    size = len(data.courses)
    if size <= config.sampled_softmax_above:
        logits = users @ model.items(data.item_bag).T / data.tower.temperature
        target = target_matrix(wanted, None, size)
    else:
        positives = np.unique(np.concatenate([rows for rows, _ in wanted]))
        sampled = np_rng.choice(size, min(size, config.negatives), replace=False)
        columns = np.union1d(positives, sampled)
        items = model.items(subset_bag(data.item_bag, columns))
        logits = users @ items.T / data.tower.temperature
        negative = torch.from_numpy(~np.isin(columns, positives))
        logits = logits + negative * float(np.log(size / min(size, config.negatives)))
        target = target_matrix(wanted, columns, len(columns))
    return -(target * torch.log_softmax(logits, dim=-1)).sum(dim=-1).mean()
