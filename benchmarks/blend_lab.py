"""Blend variants of the hybrid, measured on application.tuning's own validation split.

    .venv/bin/python -m benchmarks.blend_lab fit --dataset ml-100k|cnpc [--only NAME,...]
    .venv/bin/python -m benchmarks.blend_lab score --dataset ml-100k|cnpc
    .venv/bin/python -m benchmarks.blend_lab variants --dataset cnpc --extra sequence,two_tower5
    .venv/bin/python -m benchmarks.blend_lab transition|userknn|timepop|puresvd --dataset ...

`fit` rebuilds the inner split application.tuning searches on (the evaluation's training part
split again, the same validation learners), fits each component in CHOSEN once with the settings
the search chose on that data set (plus variants: two_tower5, two_tower_*, item_cf_100, als*), and
caches every validation learner's top-100 with scores under var/blend_lab/ (JSON). `score`
re-blends the cached lists under each pool size and normalisation; `variants` adds components to
the blend and searches weights per history-length bucket. Weights are chosen on one half of the
validation learners and reported on the other half (and the reverse: "cross"), so a variant is
not credited with fitting noise; "all" is the best setting on every learner. The one-off signals
(`transition`, `userknn`, `timepop`, `puresvd`) are computed here with numpy and cached in the
"transition" slot; the later ones (SIGNALS: `vae`, `recvae`, `ease`, `stars`, `gfcf`, `higher`,
`cease`, `demographics`, `slis`, `sessions`, `ials`, `infae`) take `--set key=value` and are
cached in their own `--slot` (without one, the sweeps print a small grid of validation figures):

    .venv/bin/python -m benchmarks.blend_lab cease --dataset ml-100k --slot cease --set alpha=3
    .venv/bin/python -m benchmarks.blend_lab variants --dataset ml-100k --extra cease,cease+vae

`--split test` fits on the evaluation's own training part and scores its test learners (cached
apart, var/blend_lab/ml-100k-test.json), and `blend --weights` scores fixed weights there: only
to confirm what validation chose, never to choose. docs/results.md ("Defaults only") has the
figures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from application.evaluation.dataset import Dataset
from application.tuning import POOL
from application.validation_split import MAX_USERS, ValidationSplit
from benchmarks.validation import inner_protocol, validation_dataset
from domain.model import LearnerHistory
from entrypoints.config import load_settings
from entrypoints.container import Container

CACHE = Path("var/blend_lab")
#: "validation" (application.tuning's inner split) or "test" (the evaluation's own split: fitted on
#: its training part, scored on its test learners; only to confirm a finding, never to choose)
SPLIT = {"name": "validation"}


def _path(dataset: str) -> Path:
    suffix = "" if SPLIT["name"] == "validation" else "-test"
    return CACHE / f"{dataset}{suffix}.json"


#: the settings the search chose on each data set (docs/results.md, "Defaults only"); "*_plain":
#: item_cf as chosen before its proximity weight (the blend figures of the tables were measured
#: with it)
CHOSEN = {
    "ml-100k": {
        "popularity": {},
        "content": {},
        "item_cf": {"regularization": 1000.0, "recency_decay": 1.0, "proximity_weight": 4.0},
        "item_cf_plain": {"regularization": 500.0, "recency_decay": 1.0},
        # item_cf's item-kNN (what it fits above 20,000 courses), on this catalog
        "item_cf_knn": {"max_dense_items": 0, "recency_decay": 1.0},
        "two_tower": {"objective": "all", "members": 3},
        "two_tower5": {"objective": "all", "members": 5},
        "sequence": {"recency_decay": 1.0},
        "two_tower_nodecay": {"objective": "all", "members": 3, "recency_decay": 1.0},
        "two_tower_t05": {"objective": "all", "members": 3, "temperature": 0.05},
        "two_tower_in03": {"objective": "all", "members": 3, "input_dropout": 0.3},
        "item_cf_100": {"regularization": 100.0, "recency_decay": 1.0},
        "two_tower_t02": {"objective": "all", "members": 3, "temperature": 0.2},
        "two_tower_in07": {"objective": "all", "members": 3, "input_dropout": 0.7},
        "two_tower_e256": {"objective": "all", "members": 3, "embedding_dim": 256},
        "two_tower_h512": {"objective": "all", "members": 3, "hidden_dims": [512]},
        "two_tower_lr005": {"objective": "all", "members": 3, "learning_rate": 0.005},
        "two_tower_do03": {"objective": "all", "members": 3, "dropout": 0.3},
        "als": {},
        "two_tower_next": {"objective": "next", "members": 3},
        "als64": {"factors": 64},
        "als128": {"factors": 128, "regularization": 1.0},
        "als16": {"factors": 16},
    },
    "cnpc": {
        "popularity": {},
        "content": {},
        "item_cf": {"regularization": 1000.0, "recency_decay": 0.3, "proximity_weight": 4.0},
        "item_cf_plain": {"regularization": 100.0, "recency_decay": 0.3},
        "item_cf_knn": {"max_dense_items": 0, "recency_decay": 0.3},
        "two_tower": {"objective": "next", "members": 3},
        "two_tower5": {"objective": "next", "members": 5},
        "sequence": {"recency_decay": 0.5},
    },
}


def fit(dataset: str, data_dir: Path, only: Sequence[str]) -> None:
    data, search = _inner(dataset, data_dir)
    container = Container()
    container.config.from_dict(load_settings({"RS_DATABASE_URL": "memory://"}))
    factories = container.tuning_factories()
    path = _path(dataset)
    cached = json.loads(path.read_text()) if path.exists() else {}
    cached["truth"] = [sorted(t) for t in search.truth]
    cached["history"] = [len(learner.seen()) for learner in search.learners]
    cached.setdefault("lists", {})
    for name, settings in CHOSEN[dataset].items():
        if only and name not in only:
            continue
        factory = next(
            f
            for f in ("two_tower", "item_cf", "sequence", "popularity", "content", "als")
            if name.startswith(f)
        )
        recommender = (
            container.evaluation_factories()["implicit-als"](**settings)
            if name.startswith("als")
            else factories[factory](**settings)
        )
        recommender.fit(data.courses, search.train)
        lists = recommender.recommend_many(search.learners, POOL, search.excludes, explain=False)
        cached["lists"][name] = [[[r.course_id, r.score] for r in items] for items in lists]
        print(f"{name} {settings}: {SPLIT['name']} ndcg@10 {search.score(lists):.4f}", flush=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cached))
    assert len(search.learners) <= MAX_USERS or SPLIT["name"] == "test"


def _cache_extra(
    dataset: str,
    search: _Inner,
    ids: Sequence[str],
    scores_of: Callable[[LearnerHistory], np.ndarray],
    label: str,
    slot: str = "transition",
) -> None:
    """Each validation learner's top POOL by `scores_of(learner)` (one score per course of `ids`;
    courses they have seen are left out), cached as the extra component `slot` (a name outside
    GRID, so `variants --extra SLOT` adds it with item_cf's grid)."""
    index = {c: i for i, c in enumerate(ids)}
    lists = []
    for learner, exclude in zip(search.learners, search.excludes, strict=True):
        scores = scores_of(learner)
        for c in exclude:
            if c in index:
                scores[index[c]] = -np.inf
        best = np.argsort(-scores, kind="stable")[:POOL]
        lists.append([[ids[t], float(scores[t])] for t in best if np.isfinite(scores[t])])
    path = _path(dataset)
    cached = json.loads(path.read_text())
    cached["lists"][slot] = lists
    path.write_text(json.dumps(cached))
    print(f"{label}: {SPLIT['name']} ndcg@10 {_ndcg(lists, search.truth):.4f}, cached as {slot}")


def _ndcg(lists: Sequence[Sequence[Sequence]], truth: Sequence[set]) -> float:
    """Mean NDCG@10 of ranked [course, score] lists over the learners with something to find."""
    discount = 1.0 / np.log2(np.arange(2, 12))
    scored = [
        sum(discount[i] for i, (c, _) in enumerate(items[:10]) if c in relevant)
        / discount[: min(10, len(relevant))].sum()
        for items, relevant in zip(lists, truth, strict=True)
        if relevant
    ]
    return float(np.mean(scored))


def _inner_matrix(
    dataset: str, data_dir: Path
) -> tuple[_Inner, list[str], np.ndarray, dict[str, int]]:
    """The inner split, the catalog's ids, the binary learners x courses matrix of the inner
    training part and each learner's row in it."""
    data, search = _inner(dataset, data_dir)
    ids = [c.course_id for c in data.courses]
    index = {c: i for i, c in enumerate(ids)}
    rows = {u: i for i, u in enumerate(sorted({e.user_id for e in search.train}))}
    x = np.zeros((len(rows), len(ids)), dtype=np.float32)
    for e in search.train:
        if e.course_id in index:
            x[rows[e.user_id], index[e.course_id]] = 1.0
    return search, ids, x, rows


class _Inner(ValidationSplit):
    """application.tuning's validation split, with the catalog it asks about."""

    def __init__(self, data: Dataset, protocol: str, seed: int) -> None:
        super().__init__(data.interactions, protocol, seed)
        self.courses = data.courses


def _inner(dataset: str, data_dir: Path) -> tuple[Dataset, _Inner]:
    data = validation_dataset(dataset, data_dir)
    search = _Inner(data, inner_protocol(dataset), 42)
    if SPLIT["name"] == "test":
        _as_test(search, dataset, data_dir)
    return data, search


def _as_test(search: _Inner, dataset: str, data_dir: Path) -> None:
    """Points `search` at the evaluation's own split (as EvaluateStrategies builds it): the
    training part to fit on, every learner with test courses, the test courses to find."""
    from adapters.datasets import MovieLensSource
    from application.use_cases.evaluate_strategies import EvaluateStrategies, EvaluationQuery

    assert dataset == "ml-100k", "the test split is wired for MovieLens only"
    full = MovieLensSource(data_dir / "ml-100k").load()
    split = EvaluateStrategies.split(EvaluationQuery(full, [], "random", seed=42))
    histories: dict[str, list] = {}
    for event in split.train:
        histories.setdefault(event.user_id, []).append(event)
    truth: dict[str, set] = {}
    for event in split.test:
        truth.setdefault(event.user_id, set()).add(event.course_id)
    users = sorted(truth)
    search.train = split.train
    search.learners = [LearnerHistory(u, tuple(histories.get(u, ()))) for u in users]
    search.excludes = [learner.seen() for learner in search.learners]
    search.truth = [truth[u] - search.excludes[i] for i, u in enumerate(users)]
    print(f"test split: {len(split.train)} training events, {len(users)} test learners")


def transition(dataset: str, data_dir: Path, window: int = 3, decay: float = 0.5) -> None:
    """A "next course" signal from the inner training part's sequences: P(b within `window`
    courses after a), summed over the learner's courses with each step back weighing `decay`
    times less. Cached as the component "transition"."""
    data, search = _inner(dataset, data_dir)
    ids = sorted({c.course_id for c in data.courses} | {e.course_id for e in search.train})
    index = {c: i for i, c in enumerate(ids)}
    counts = np.zeros((len(ids), len(ids)))
    sequences: dict[str, list[int]] = {}
    for event in sorted(search.train, key=lambda e: (e.user_id, e.occurred_at)):
        sequences.setdefault(event.user_id, []).append(index[event.course_id])
    for seq in sequences.values():
        for i, a in enumerate(seq):
            for j, b in enumerate(seq[i + 1 : i + 1 + window]):
                counts[a, b] += 1.0 / (j + 1)
    probs = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)

    def scores_of(learner: LearnerHistory) -> np.ndarray:
        seq = [index[e.course_id] for e in sorted(learner.events, key=lambda e: e.occurred_at)]
        return (decay ** np.arange(len(seq))[::-1]) @ probs[seq]

    _cache_extra(dataset, search, ids, scores_of, f"transition window {window} decay {decay}")


def userknn(dataset: str, data_dir: Path, k: int = 50, alpha: float = 0.5) -> None:
    """User-based kNN (cosine over binary histories, k neighbours), cached as "transition"."""
    data, search = _inner(dataset, data_dir)
    ids = sorted({c.course_id for c in data.courses} | {e.course_id for e in search.train})
    index = {c: i for i, c in enumerate(ids)}
    users = sorted({e.user_id for e in search.train})
    uindex = {u: i for i, u in enumerate(users)}
    x = np.zeros((len(users), len(ids)))
    for e in search.train:
        x[uindex[e.user_id], index[e.course_id]] = 1.0
    norms = np.maximum(x.sum(axis=1), 1.0)

    def scores_of(learner: LearnerHistory) -> np.ndarray:
        row = x[uindex[learner.user_id]]
        sims = (x @ row) / (norms**alpha * max(row.sum(), 1.0) ** (1 - alpha))
        sims[uindex[learner.user_id]] = 0.0
        top = np.argsort(-sims)[:k]
        return sims[top] @ x[top]

    _cache_extra(dataset, search, ids, scores_of, f"userknn k {k} alpha {alpha}")


def timepop(dataset: str, data_dir: Path, tau: float = 7.0, unused: float = 0.0) -> None:
    """Popularity around the learner's own time: each other event counts exp(-|days apart| / tau)
    from the learner's events (averaged over them). Cached as "transition"."""
    data, search = _inner(dataset, data_dir)
    ids = sorted({c.course_id for c in data.courses} | {e.course_id for e in search.train})
    index = {c: i for i, c in enumerate(ids)}
    start = min(e.occurred_at for e in search.train)
    day = lambda e: int((e.occurred_at - start).total_seconds() // 86400)  # noqa: E731
    days = max(day(e) for e in search.train) + 1
    counts = np.zeros((len(ids), days))
    for e in search.train:
        counts[index[e.course_id], day(e)] += 1.0
    grid = np.arange(days)
    kernel = np.exp(-np.abs(grid[:, None] - grid[None, :]) / tau)

    def scores_of(learner: LearnerHistory) -> np.ndarray:
        h = np.zeros(days)
        for e in learner.events:
            h[min(day(e), days - 1) if day(e) >= 0 else 0] += 1.0
        return counts @ (kernel @ (h / h.sum()))

    _cache_extra(dataset, search, ids, scores_of, f"timepop tau {tau}")


def puresvd(dataset: str, data_dir: Path, k: int = 50, unused: float = 0.0) -> None:
    """PureSVD: scores x_u V_k V_kᵀ from the top-k right singular vectors. Cached as "transition"."""
    from adapters.item_weights import interaction_matrix

    data, search = _inner(dataset, data_dir)
    ids = [c.course_id for c in data.courses]
    index = {c: i for i, c in enumerate(ids)}
    x = interaction_matrix(index, search.train).toarray()
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    w = vt[:k].T @ vt[:k]

    def scores_of(learner: LearnerHistory) -> np.ndarray:
        row = np.zeros(len(ids))
        for c in learner.seen():
            if c in index:
                row[index[c]] = 1.0
        return row @ w

    _cache_extra(dataset, search, ids, scores_of, f"puresvd k {k}")


def vae(
    dataset: str,
    data_dir: Path,
    slot: str = "vae",
    epochs: float = 100,
    hidden: float = 600,
    latent: float = 200,
    beta: float = 0.2,
    dropout: float = 0.5,
    lr: float = 1e-3,
    batch: float = 100,
    seed: float = 0,
    members: float = 1,
) -> None:
    """Mult-VAE (Liang et al. 2018): a multinomial likelihood over the catalog, dropout on the
    L2-normalised input, KL weight annealed to `beta` over the first 80% of the updates (beta 0:
    Mult-DAE). Trained on the inner training part (the validation learners' own rows included:
    their histories are the input); the scores are the decoder's logits at the mean. `members`
    averages the softmax of that many seeds."""
    import torch

    torch.set_num_threads(1)
    search, ids, x, rows = _inner_matrix(dataset, data_dir)
    data = torch.from_numpy(x)
    total = np.zeros(x.shape)
    for member in range(int(members)):
        torch.manual_seed(int(seed) + 1000 * member)
        n, h, d = x.shape[1], int(hidden), int(latent)
        encoder = torch.nn.Sequential(
            torch.nn.Linear(n, h), torch.nn.Tanh(), torch.nn.Linear(h, 2 * d)
        )
        decoder = torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.Tanh(), torch.nn.Linear(h, n))
        params = [*encoder.parameters(), *decoder.parameters()]
        optimiser = torch.optim.Adam(params, lr=lr)
        steps_per_epoch = -(-len(x) // int(batch))
        anneal = 0.8 * int(epochs) * steps_per_epoch
        step = 0
        for _ in range(int(epochs)):
            for chunk in torch.randperm(len(x)).split(int(batch)):
                rows_in = data[chunk]
                inp = torch.nn.functional.dropout(
                    torch.nn.functional.normalize(rows_in), dropout, training=True
                )
                mu, logvar = encoder(inp).chunk(2, dim=1)
                z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if beta > 0 else mu
                logp = torch.log_softmax(decoder(z), dim=1)
                nll = -(logp * rows_in).sum(dim=1).mean()
                kl = 0.5 * (-logvar + logvar.exp() + mu**2 - 1).sum(dim=1).mean()
                loss = nll + beta * min(1.0, step / anneal) * kl
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                step += 1
        with torch.no_grad():
            mu, _ = encoder(torch.nn.functional.normalize(data)).chunk(2, dim=1)
            total += torch.softmax(decoder(mu), dim=1).numpy()
    label = (
        f"vae epochs {epochs:g} hidden {hidden:g} latent {latent:g} beta {beta:g} "
        f"dropout {dropout:g} lr {lr:g} batch {batch:g} seed {seed:g} members {members:g}"
    )
    _cache_extra(
        dataset, search, ids, lambda learner: total[rows[learner.user_id]].copy(), label, slot
    )


def _quick(search: _Inner, ids: Sequence[str], rows: dict[str, int], scores: np.ndarray) -> float:
    """Validation NDCG@10 of a full learners x courses score matrix (seen courses left out)."""
    index = {c: i for i, c in enumerate(ids)}
    discount = 1.0 / np.log2(np.arange(2, 12))
    out = []
    for learner, exclude, relevant in zip(
        search.learners, search.excludes, search.truth, strict=True
    ):
        if not relevant:
            continue
        row = scores[rows[learner.user_id]].astype(float)
        row[[index[c] for c in exclude if c in index]] = -np.inf
        top = np.argsort(-row, kind="stable")[:10]
        gains = sum(discount[i] for i, t in enumerate(top) if ids[t] in relevant)
        out.append(gains / discount[: min(10, len(relevant))].sum())
    return float(np.mean(out))


def _ratings(data_dir: Path, ids: Sequence[str], rows: dict[str, int]) -> np.ndarray:
    """MovieLens' star ratings (1-5) laid out like _inner_matrix's matrix (0: not rated)."""
    index = {c: i for i, c in enumerate(ids)}
    r = np.zeros((len(rows), len(ids)), dtype=np.float32)
    for line in (data_dir / "ml-100k" / "u.data").read_text().splitlines():
        user, item, rating, _ = line.split("\t")
        if user in rows and item in index:
            r[rows[user], index[item]] = float(rating)
    return r


def _ease_dense(x: np.ndarray, lam: float, target: np.ndarray | None = None) -> np.ndarray:
    """EASE weights B (zero diagonal) fitting `target` (default x) from x."""
    gram = x.T.astype(float) @ x + lam * np.eye(x.shape[1])
    p = np.linalg.inv(gram)
    if target is None:
        b = -p / np.diag(p)
    else:  # B = P XᵀT minus the diagonal-constraint correction
        b = p @ (x.T.astype(float) @ target)
        b -= p * (np.diag(b) / np.diag(p))
    np.fill_diagonal(b, 0.0)
    return b


def ease_sweep(
    dataset: str, data_dir: Path, slot: str = "", lam: float = 500.0, **unused: float
) -> None:
    """issue 14 ideas 2 and 3: EASE with rating-based input/target weights, a popularity exponent
    on its scores, and popularity-weighted inputs (IDF/BM25-like), each printed with its
    validation NDCG; `--slot` caches the settings given by --set (keys as printed)."""
    search, ids, x, rows = _inner_matrix(dataset, data_dir)
    pop = x.sum(axis=0) + 1.0
    # only the inner training part's ratings: u.data also rates every held-out course
    stars = _ratings(data_dir, ids, rows) * x if dataset == "ml-100k" else x
    if slot:
        s = _ease_variant(x, stars, pop, lam, **unused)
        label = f"ease lam {lam:g} {unused}"
        _cache_extra(
            dataset, search, ids, lambda learner: s[rows[learner.user_id]].copy(), label, slot
        )
        return
    print(f"binary lam {lam:g}: {_quick(search, ids, rows, _ease_variant(x, stars, pop, lam)):.4f}")
    for key, values in {
        "rating_power": (0.5, 1.0, 2.0),
        "target_power": (0.5, 1.0),
        "liked_only_target": (1.0,),
        "pop_beta": (-0.3, -0.2, -0.1, -0.05, 0.05, 0.1, 0.2, 0.3),
        "in_pop": (-0.5, -0.25, 0.25),
    }.items():
        for v in values:
            s = _ease_variant(x, stars, pop, lam, **{key: v})
            print(f"  {key} {v:g}: {_quick(search, ids, rows, s):.4f}", flush=True)


def _ease_variant(
    x: np.ndarray,
    stars: np.ndarray,
    pop: np.ndarray,
    lam: float,
    rating_power: float = 0.0,
    target_power: float = 0.0,
    liked_only_target: float = 0.0,
    pop_beta: float = 0.0,
    in_pop: float = 0.0,
) -> np.ndarray:
    """rating_power: input and target weighted (stars/5)^p; target_power: the target only;
    liked_only_target: the target is the 4-5 star ratings; pop_beta: scores x pop^beta (on the
    positive part); in_pop: each input course weighted pop^in_pop at scoring time."""
    scaled = (stars / 5.0) ** rating_power * x if rating_power else x
    target = None
    if target_power:
        target = (stars / 5.0) ** target_power * x
    if liked_only_target:
        target = (stars >= 4).astype(np.float32) * x
    b = _ease_dense(scaled, lam, target)
    inputs = scaled * pop**in_pop if in_pop else scaled
    s = inputs @ b
    if pop_beta:
        s = np.where(s > 0, s * pop**pop_beta, s)
    return s


def gfcf(
    dataset: str, data_dir: Path, slot: str = "", alpha: float = 0.3, k: float = 64, **unused: float
) -> None:
    """GF-CF (Shen et al. 2021): the normalised item-item filter R̃ᵀR̃ (R̃ = D_u^-1/2 R D_i^-1/2)
    plus `alpha` times an ideal low-pass filter on R̃'s top-`k` right singular vectors. Without
    `--slot` a small grid is printed."""
    search, ids, x, rows = _inner_matrix(dataset, data_dir)
    du = np.maximum(x.sum(axis=1, keepdims=True), 1.0)
    di = np.maximum(x.sum(axis=0), 1.0)
    norm = x / np.sqrt(du) / np.sqrt(di)
    linear = x @ (norm.T @ norm)
    _, _, vt = np.linalg.svd(norm, full_matrices=False)

    def scores(a: float, kk: int) -> np.ndarray:
        ideal = ((x / np.sqrt(di)) @ vt[:kk].T) @ vt[:kk] * np.sqrt(di)
        return linear + a * ideal

    if slot:
        s = scores(alpha, int(k))
        label = f"gfcf alpha {alpha:g} k {k:g}"
        _cache_extra(
            dataset, search, ids, lambda learner: s[rows[learner.user_id]].copy(), label, slot
        )
        return
    print(f"linear filter only: {_quick(search, ids, rows, linear):.4f}")
    for kk in (16, 32, 64, 128, 256):
        print(f"  ideal only k {kk}: {_quick(search, ids, rows, scores(1e6, kk)):.4f}", flush=True)
        for a in (0.1, 0.3, 1.0):
            print(
                f"  alpha {a:g} k {kk}: {_quick(search, ids, rows, scores(a, kk)):.4f}", flush=True
            )


def recvae(
    dataset: str,
    data_dir: Path,
    slot: str = "recvae",
    epochs: float = 50,
    hidden: float = 600,
    latent: float = 200,
    gamma: float = 0.005,
    dropout: float = 0.5,
    lr: float = 5e-4,
    batch: float = 500,
    seed: float = 0,
    members: float = 1,
) -> None:
    """RecVAE (Shenbin et al. 2020), after the authors' code: a densely connected 5-layer encoder
    (swish, layer norm), a linear decoder, a composite prior (standard normal, the previous
    encoder's posterior, a wide normal: 3/20, 3/4, 1/10), the KL weighted `gamma` x the learner's
    history length, and alternating updates (3 encoder epochs with dropout, then 1 decoder epoch
    without). `members` averages the softmax of that many seeds."""
    import copy

    import torch
    from torch import nn
    from torch.nn import functional as f

    torch.set_num_threads(1)
    search, ids, x, rows = _inner_matrix(dataset, data_dir)
    data = torch.from_numpy(x)
    h, d, n = int(hidden), int(latent), x.shape[1]

    def log_normal(z, mu, logvar):  # type: ignore[no-untyped-def]
        return -0.5 * (logvar + np.log(2 * np.pi) + (z - mu).pow(2) / logvar.exp())

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.ModuleList([nn.Linear(n, h)] + [nn.Linear(h, h) for _ in range(4)])
            self.ln = nn.ModuleList([nn.LayerNorm(h, eps=0.1) for _ in range(5)])
            self.mu, self.logvar = nn.Linear(h, d), nn.Linear(h, d)

        def forward(self, rows_in, rate):  # type: ignore[no-untyped-def]
            out = f.dropout(f.normalize(rows_in), rate, training=self.training)
            hs: list = []
            for fc, ln in zip(self.fc, self.ln, strict=True):
                out = ln(f.silu(fc(out) + sum(hs)))
                hs.append(out)
            return self.mu(out), self.logvar(out)

    total = np.zeros(x.shape)
    for member in range(int(members)):
        torch.manual_seed(int(seed) + 1000 * member)
        encoder, old, decoder = Encoder(), Encoder(), nn.Linear(d, n)
        old.requires_grad_(False)
        weights = torch.log(torch.tensor([3 / 20, 3 / 4, 1 / 10]))
        enc_opt = torch.optim.Adam(encoder.parameters(), lr=lr)
        dec_opt = torch.optim.Adam(decoder.parameters(), lr=lr)

        def run(optimiser, rate, encoder=encoder, old=old, decoder=decoder, weights=weights):  # type: ignore[no-untyped-def]
            encoder.train()
            for chunk in torch.randperm(len(x)).split(int(batch)):
                rows_in = data[chunk]
                mu, logvar = encoder(rows_in, rate)
                z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
                mll = (torch.log_softmax(decoder(z), dim=1) * rows_in).sum(dim=1).mean()
                post_mu, post_logvar = old(rows_in, 0.0)
                zeros = torch.zeros_like(z)
                prior = torch.logsumexp(
                    torch.stack(
                        [
                            log_normal(z, zeros, zeros),
                            log_normal(z, post_mu, post_logvar),
                            log_normal(z, zeros, zeros + 10.0),
                        ],
                        dim=-1,
                    )
                    + weights,
                    dim=-1,
                )
                kl = (
                    (log_normal(z, mu, logvar) - prior).sum(dim=1) * gamma * rows_in.sum(1)
                ).mean()
                optimiser.zero_grad()
                (kl - mll).backward()
                optimiser.step()

        old.load_state_dict(copy.deepcopy(encoder.state_dict()))
        for _ in range(int(epochs)):
            for _ in range(3):
                run(enc_opt, dropout)
            old.load_state_dict(copy.deepcopy(encoder.state_dict()))
            run(dec_opt, 0.0)
        encoder.eval()
        with torch.no_grad():
            mu, _ = encoder(data, 0.0)
            total += torch.softmax(decoder(mu), dim=1).numpy()
    label = (
        f"recvae epochs {epochs:g} hidden {hidden:g} latent {latent:g} gamma {gamma:g} "
        f"dropout {dropout:g} lr {lr:g} batch {batch:g} seed {seed:g} members {members:g}"
    )
    _cache_extra(
        dataset, search, ids, lambda learner: total[rows[learner.user_id]].copy(), label, slot
    )


def stars_sweep(
    dataset: str, data_dir: Path, slot: str = "", lam: float = 500.0, **unused: float
) -> None:
    """Signals only the star ratings carry (MovieLens): each course's shrunk mean rating (a
    static "quality" score, alone or as EASE x quality^q), and EASE scored with each input course
    weighted 1 + c (stars - 3.5) (fitted on the binary matrix); plus item-kNN over BM25-weighted
    histories (cosine, k neighbours). Printed with their validation NDCG; `--slot` caches
    `quality_power` (0: the quality score alone) or `bm25_k` given by --set."""
    search, ids, x, rows = _inner_matrix(dataset, data_dir)
    stars = _ratings(data_dir, ids, rows) * x
    counts = x.sum(axis=0)
    quality = (stars.sum(axis=0) + 10 * 3.53) / (counts + 10)  # shrunk towards the mean star
    b = _ease_dense(x, lam)
    ease_scores = x @ b
    candidates = {
        "quality alone": lambda: np.tile(quality, (len(x), 1)),
        **{
            f"ease x quality^{q:g}": (
                lambda q=q: np.where(ease_scores > 0, ease_scores * quality**q, ease_scores)
            )
            for q in (0.5, 1.0, 2.0, 4.0)
        },
        **{
            f"ease input 1 + {c:g} (stars - 3.5)": (lambda c=c: (x * (1 + c * (stars - 3.5))) @ b)
            for c in (-0.1, 0.1, 0.2, 0.4)
        },
        **{f"bm25 item-knn k {k}": (lambda k=k: _bm25_knn(x, k)) for k in (50, 200, 2000)},
    }
    if slot:
        name = (
            f"bm25 item-knn k {int(unused['bm25_k'])}"
            if "bm25_k" in unused
            else f"ease x quality^{unused['quality_power']:g}"
            if unused.get("quality_power")
            else "quality alone"
        )
        s = candidates[name]()
        _cache_extra(
            dataset, search, ids, lambda learner: s[rows[learner.user_id]].copy(), name, slot
        )
        return
    for name, make in candidates.items():
        print(f"  {name}: {_quick(search, ids, rows, make()):.4f}", flush=True)


def _bm25_knn(x: np.ndarray, k: int, k1: float = 1.2, b: float = 0.75) -> np.ndarray:
    """Item-kNN scores over BM25-weighted learner x course rows (implicit's bm25_weight)."""
    n = len(x)
    idf = np.log(n / (1.0 + x.sum(axis=0)))
    length = x.sum(axis=1, keepdims=True)
    weighted = x * (k1 + 1.0) / (k1 * (1.0 - b + b * length / length.mean()) + x) * idf
    sims = weighted.T @ weighted
    norms = np.sqrt(np.maximum(np.diag(sims), 1e-12))
    sims = sims / norms[:, None] / norms[None, :]
    np.fill_diagonal(sims, 0.0)
    if k < len(sims):
        cut = np.argpartition(-sims, k - 1, axis=1)[:, k:]
        np.put_along_axis(sims, cut, 0.0, axis=1)
    return x @ sims


def higher(
    dataset: str,
    data_dir: Path,
    slot: str = "",
    lam: float = 500.0,
    pairs: float = 2000,
    lam_pairs: float = 500.0,
    rho: float = 500.0,
    rounds: float = 10,
    **unused: float,
) -> None:
    """Higher-order EASE (Steck & Liang 2021): X ≈ XB + ZC, where Z holds the `pairs` most
    co-occurring course pairs (z = x_i x_j) and a pair may not predict its own two courses. B is
    EASE fitted on X - ZC, C a ridge on X - XB with that constraint enforced by ADMM (`rho`),
    alternating `rounds` times. Without `--slot` a small grid of pairs / lam_pairs is printed."""
    search, ids, x, rows = _inner_matrix(dataset, data_dir)
    counts = np.triu(x.T @ x, 1)

    def fit_scores(m: int, lam_c: float) -> np.ndarray:
        flat = np.argsort(-counts, axis=None)[:m]
        i, j = np.unravel_index(flat, counts.shape)
        z = x[:, i] * x[:, j]
        inverse = np.linalg.inv(z.T @ z + (lam_c + rho) * np.eye(m))
        zx = z.T
        d = np.zeros((m, x.shape[1]))
        gamma = np.zeros_like(d)
        for _ in range(int(rounds)):
            b = _ease_dense(x, lam, x - z @ d)
            target = zx @ (x - x @ b)
            for _ in range(5):
                c = inverse @ (target + rho * (d - gamma))
                d = c + gamma
                d[np.arange(m), i] = 0.0
                d[np.arange(m), j] = 0.0
                gamma += c - d
        return x @ b + z @ d

    if slot:
        s = fit_scores(int(pairs), lam_pairs)
        label = f"higher-order ease pairs {pairs:g} lam_pairs {lam_pairs:g}"
        _cache_extra(
            dataset, search, ids, lambda learner: s[rows[learner.user_id]].copy(), label, slot
        )
        return
    for m in (500, 2000):
        for lam_c in (100.0, 500.0, 2000.0):
            score = _quick(search, ids, rows, fit_scores(m, lam_c))
            print(f"  pairs {m} lam_pairs {lam_c:g}: {score:.4f}", flush=True)


def _tag_rows(search: _Inner, ids: Sequence[str], years: float, genres: float) -> np.ndarray:
    """One row per catalog tag (MovieLens: genres; plus release-decade tags parsed from the
    description, `years` per tag), 1 for the courses that carry it."""
    import re

    tags: dict[str, set[int]] = {}
    for i, course in enumerate(search.courses):
        for tag in course.tags if genres else ():
            tags.setdefault(f"tag {tag}", set()).add(i)
        year = re.search(r"(\d{4})\s*$", course.description)
        if year and years:
            tags.setdefault(f"years {int(year.group(1)) // int(years)}", set()).add(i)
    t = np.zeros((len(tags), len(ids)), dtype=np.float32)
    for r, members in enumerate(tags.values()):
        t[r, sorted(members)] = 1.0
    return t


def cease(
    dataset: str,
    data_dir: Path,
    slot: str = "",
    lam: float = 500.0,
    alpha: float = 3.0,
    years: float = 10,
    genres: float = 1.0,
    **unused: float,
) -> None:
    """EASE with side information (collective EASE, Jeunen et al. 2020): the catalog's tags
    (MovieLens: genres; plus release-decade tags parsed from the description) are stacked
    under X as extra rows weighted `alpha`, so courses sharing a tag co-occur. Without `--slot`
    a grid of alpha is printed."""
    search, ids, x, rows = _inner_matrix(dataset, data_dir)
    t = _tag_rows(search, ids, years, genres)

    def scores(a: float) -> np.ndarray:
        return x @ _ease_dense(np.vstack([x, a * t]), lam)[:, :]

    if slot:
        s = scores(alpha)
        _cache_extra(
            dataset,
            search,
            ids,
            lambda learner: s[rows[learner.user_id]].copy(),
            f"cease alpha {alpha:g}",
            slot,
        )
        return
    print(f"{len(t)} tag rows (years per tag {years:g}, genres {genres:g}, lam {lam:g})")
    for a in (0.0, 1.0, 2.0, 3.0, 5.0, 10.0):
        print(f"  alpha {a:g}: {_quick(search, ids, rows, scores(a)):.4f}", flush=True)


def demographics(
    dataset: str,
    data_dir: Path,
    slot: str = "",
    lam: float = 500.0,
    alpha: float = 1.0,
    **unused: float,
) -> None:
    """EASE with the learners' side information (MovieLens' u.user: age decade, gender,
    occupation, first digit of the zip code) as extra columns of X weighted `alpha`, so a
    learner's profile adds to the scores of the courses learners like them took. Without
    `--slot` a grid of alpha is printed."""
    assert dataset == "ml-100k", "only MovieLens has learner attributes"
    search, ids, x, rows = _inner_matrix(dataset, data_dir)
    columns: dict[str, int] = {}
    pairs = []
    for line in (data_dir / "ml-100k" / "u.user").read_text().splitlines():
        user, age, gender, occupation, zipcode = line.split("|")
        if user in rows:
            for value in (
                f"age {min(int(age) // 10, 6)}",
                gender,
                occupation,
                f"zip {zipcode[:1]}",
            ):
                pairs.append((rows[user], columns.setdefault(value, len(columns))))
    u = np.zeros((len(rows), len(columns)), dtype=np.float32)
    for row, column in pairs:
        u[row, column] = 1.0

    def scores(a: float) -> np.ndarray:
        xa = np.hstack([x, a * u])
        return xa @ _ease_dense(xa, lam)[:, : x.shape[1]]

    if slot:
        s = scores(alpha)
        label = f"demographics alpha {alpha:g}"
        _cache_extra(
            dataset, search, ids, lambda learner: s[rows[learner.user_id]].copy(), label, slot
        )
        return
    print(f"{len(columns)} attribute columns (lam {lam:g})")
    for a in (0.0, 0.3, 1.0, 3.0):
        print(f"  alpha {a:g}: {_quick(search, ids, rows, scores(a)):.4f}", flush=True)


def slis(
    dataset: str,
    data_dir: Path,
    slot: str = "",
    lam: float = 500.0,
    alpha: float = 1.0,
    window: float = 3,
    decay: float = 0.5,
    tags: float = 0.0,
    tau: float = 0.0,
    psd: float = 0.0,
    local: float = 0.0,
    **unused: float,
) -> None:
    """EASE on a Gram matrix that also counts courses taken near each other in time (SLIS, Choi
    et al. 2021, symmetric): G = XᵀX + alpha · W, where W[a, b] adds decay^(d-1) for every
    learner who took b within `window` courses of a, before or after (d courses apart); `psd=1`
    adds each course with itself (XᵀX's diagonal), which keeps G far closer to a Gram matrix
    (not exactly: with decay^(d-1) the kernel is not positive definite, and a learner's repeated
    courses are not merged; the shipped form, item_cf's `proximity_weight`, uses decay^d on
    distinct courses and is); `tau` (hours) weighs by time
    apart instead, `tags` stacks collective EASE's tag rows. On a random split the hidden
    courses sit between the learner's others in time, which the forward "sequence" component
    only half sees. `local=1` leaves XᵀX out (only what was taken close together counts; with
    psd=1 its diagonal stays). Without `--slot` a grid is printed (the second sweep's;
    docs/results.md)."""
    search, ids, x, rows = _inner_matrix(dataset, data_dir)
    index = {c: i for i, c in enumerate(ids)}
    sequences: dict[str, list[int]] = {}
    times: dict[str, list[float]] = {}
    for event in sorted(search.train, key=lambda e: (e.user_id, e.occurred_at)):
        if event.course_id in index:
            sequences.setdefault(event.user_id, []).append(index[event.course_id])
            times.setdefault(event.user_id, []).append(event.occurred_at.timestamp() / 3600)

    def near(w: int, dec: float) -> np.ndarray:
        """decay^(d-1) for courses d apart, or with `tau` (hours) exp(-hours apart / tau)."""
        m = np.zeros((len(ids), len(ids)))
        for user, seq in sequences.items():
            s, h = np.array(seq), np.array(times[user])
            for d in range(1, w + 1):
                weight = np.exp(-(h[d:] - h[:-d]) / tau) if tau else dec ** (d - 1)
                np.add.at(m, (s[:-d], s[d:]), weight)
        # plus each course with itself (weight 1): a sum of learners' kernel matrices, so G
        # stays positive semi-definite whatever alpha
        return m + m.T + np.diag(x.sum(axis=0).astype(float)) * psd

    t = _tag_rows(search, ids, 10, 1.0) * tags
    gram = x.T.astype(float) @ x + t.T.astype(float) @ t
    if local:
        gram = t.T.astype(float) @ t

    def scores(a: float, w: int, dec: float) -> np.ndarray:
        g = gram + a * near(w, dec) + lam * np.eye(len(ids))
        p = np.linalg.inv(g)
        b = -p / np.diag(p)
        np.fill_diagonal(b, 0.0)
        return x @ b

    if slot:
        s = scores(alpha, int(window), decay)
        label = f"slis alpha {alpha:g} window {window:g} decay {decay:g}"
        _cache_extra(
            dataset, search, ids, lambda learner: s[rows[learner.user_id]].copy(), label, slot
        )
        return
    print(f"lam {lam:g}: alpha 0: {_quick(search, ids, rows, scores(0.0, 1, 1.0)):.4f}")
    for w, dec in ((10, 0.8), (30, 0.9), (50, 0.95)):
        for a in (4.0, 8.0, 16.0):
            print(
                f"  window {w} decay {dec:g} alpha {a:g}: "
                f"{_quick(search, ids, rows, scores(a, w, dec)):.4f}",
                flush=True,
            )


def ials(
    dataset: str,
    data_dir: Path,
    slot: str = "",
    dim: float = 128,
    reg: float = 0.02,
    alpha0: float = 0.3,
    nu: float = 1.0,
    epochs: float = 10,
    seed: float = 0,
    **unused: float,
) -> None:
    """iALS as revisited by Rendle et al. 2022 ("Revisiting the performance of iALS on item
    recommendation benchmarks"): every unobserved pair weighted `alpha0` (the Gramian trick),
    the regulariser scaled by each row's frequency, reg · (observed + alpha0 · all)^nu, and
    embeddings of `dim` (the paper's point: large ones, with that regulariser, match EASE). Exact
    alternating solves in numpy. The defaults are the best of the MovieLens sweep (docs/results.md).
    Without `--slot` the regulariser is swept around `reg`."""
    search, ids, x, rows = _inner_matrix(dataset, data_dir)
    xs = x.astype(float)

    def solve(other: np.ndarray, target: np.ndarray, reg_: float) -> np.ndarray:
        d = other.shape[1]
        gram = alpha0 * other.T @ other
        counts = target.sum(axis=1)
        scale = reg_ * (counts + alpha0 * other.shape[0]) ** nu
        out = np.zeros((len(target), d))
        eye = np.eye(d)
        for r, row in enumerate(target):
            seen = other[np.flatnonzero(row)]
            a = gram + seen.T @ seen + scale[r] * eye
            out[r] = np.linalg.solve(a, seen.sum(axis=0))
        return out

    def scores(d: int, reg_: float) -> np.ndarray:
        rng = np.random.default_rng(int(seed))
        h = rng.normal(0.0, 0.1 / np.sqrt(d), (x.shape[1], d))
        w = np.zeros((x.shape[0], d))
        for _ in range(int(epochs)):
            w = solve(h, xs, reg_)
            h = solve(w, xs.T, reg_)
        return w @ h.T

    if slot:
        s = scores(int(dim), reg)
        label = f"ials dim {dim:g} reg {reg:g} alpha0 {alpha0:g} nu {nu:g} epochs {epochs:g}"
        _cache_extra(
            dataset, search, ids, lambda learner: s[rows[learner.user_id]].copy(), label, slot
        )
        return
    for r in (reg / 4, reg / 2, reg, reg * 2, reg * 4):
        print(
            f"  dim {dim:g} reg {r:g} alpha0 {alpha0:g} nu {nu:g}: "
            f"{_quick(search, ids, rows, scores(int(dim), r)):.4f}",
            flush=True,
        )


def infae(
    dataset: str,
    data_dir: Path,
    slot: str = "",
    depth: float = 1,
    lam: float = 3.0,
    **unused: float,
) -> None:
    """∞-AE (Sachdeva et al. 2022, "Infinite recommendation networks"): kernel ridge regression
    over learners with the neural tangent kernel of an infinitely wide ReLU autoencoder of
    `depth` hidden layers, scores K (K + lam · mean(diag K) I)⁻¹ X. A learner-side, non-linear
    signal, where every component of the blend is course-side or a factorisation. Without
    `--slot` lam is swept around the given one."""
    search, ids, x, rows = _inner_matrix(dataset, data_dir)
    xs = x.astype(float)
    norms = np.linalg.norm(xs, axis=1)
    norms[norms == 0] = 1.0
    cos = np.clip(xs @ xs.T / np.outer(norms, norms), -1.0, 1.0)
    sigma, kernel = cos.copy(), cos.copy()
    for _ in range(int(depth)):
        angle = np.arccos(np.clip(sigma, -1.0, 1.0))
        kernel = kernel * (np.pi - angle) / np.pi
        sigma = (np.sin(angle) + (np.pi - angle) * np.cos(angle)) / np.pi
        kernel += sigma
    kernel *= np.outer(norms, norms)
    ridge = np.mean(np.diag(kernel)) * np.eye(len(kernel))

    def scores(lam_: float) -> np.ndarray:
        return kernel @ np.linalg.solve(kernel + lam_ * ridge, xs)

    if slot:
        s = scores(lam)
        label = f"infae depth {depth:g} lam {lam:g}"
        _cache_extra(
            dataset, search, ids, lambda learner: s[rows[learner.user_id]].copy(), label, slot
        )
        return
    for r in (lam / 3, lam / 2, lam, lam * 2, lam * 3):
        print(
            f"  depth {depth:g} lam {r:g}: {_quick(search, ids, rows, scores(r)):.4f}", flush=True
        )


def sessions(
    dataset: str, data_dir: Path, lam: float = 1000.0, alpha: float = 4.0, **unused: float
) -> None:
    """item_cf as the search chose it (EASE with the proximity weight), scored per session:
    a learner's history cut where `gap` hours pass without an event, each course scored by the
    p-norm over sessions of its session sums (the strongest session counts most), mixed with the
    plain score (both divided by their largest). On a random split a hidden course was taken in
    one of the learner's sessions; this asks whether scoring by the closest session finds it."""
    from adapters.item_weights import add_proximity

    search, ids, x, rows = _inner_matrix(dataset, data_dir)
    index = {c: i for i, c in enumerate(ids)}
    gram = (x.T @ x).astype(np.float32)
    add_proximity(gram, index, search.train, alpha)
    p = np.linalg.inv(gram.astype(float) + lam * np.eye(len(ids)))
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    plain = x @ b
    print(f"lam {lam:g} alpha {alpha:g}: {_quick(search, ids, rows, plain):.4f}")
    history: dict[str, list[tuple[int, float]]] = {}
    for e in sorted(search.train, key=lambda e: (e.user_id, e.occurred_at)):
        if e.course_id in index:
            history.setdefault(e.user_id, []).append(
                (index[e.course_id], e.occurred_at.timestamp() / 3600)
            )
    for gap, power, mix in itertools.product((1.0, 24.0), (2.0, 4.0), (0.3, 0.6, 1.0)):
        s = plain.copy()
        for learner in search.learners:
            items, hours = map(np.array, zip(*history[learner.user_id], strict=True))
            cuts = np.flatnonzero(np.diff(hours) > gap) + 1
            per = np.stack([b[part].sum(axis=0) for part in np.split(items, cuts)])
            strongest = (np.clip(per, 0, None) ** power).sum(axis=0) ** (1 / power)
            row = rows[learner.user_id]
            s[row] = (1 - mix) * plain[row] / np.abs(plain[row]).max() + mix * strongest / (
                strongest.max() + 1e-12
            )
        print(f"  gap {gap:g} h, p {power:g}, mix {mix:g}: {_quick(search, ids, rows, s):.4f}")


# --- normalisations: raw scores of one component's top-p (best first) -> values in [0, 1]-ish
def minmax(s: np.ndarray) -> np.ndarray:
    span = s.max() - s.min()
    return (s - s.min()) / span if span > 0 else np.ones_like(s)


def zscore(s: np.ndarray) -> np.ndarray:
    sd = s.std()
    return (s - s.mean()) / sd if sd > 0 else np.zeros_like(s)


def by_top(s: np.ndarray) -> np.ndarray:
    return s / s[0] if s[0] > 0 else minmax(s)


def softmax(t: float) -> Callable[[np.ndarray], np.ndarray]:
    def f(s: np.ndarray) -> np.ndarray:
        z = (s - s.max()) / (t * (s.std() or 1.0))
        e = np.exp(z)
        return e / e.sum()

    return f


def rank_based(s: np.ndarray) -> np.ndarray:
    return 1.0 - np.arange(len(s)) / len(s)


GRID = {
    "transition": (0.0, 0.1, 0.25, 0.5, 1.0),
    "sequence": (0.0, 0.25, 0.5, 1.0),
    "item_cf": (0.0, 0.25, 0.5, 1.0),
    "two_tower": (0.0, 0.25, 0.5, 1.0),
    "content": (0.0, 0.1, 0.25),
    "popularity": (0.0, 0.1, 0.25),
}
FINE = {
    "item_cf": (0.0, 0.1, 0.25, 0.4, 0.5, 0.75, 1.0),
    "two_tower": (0.0, 0.1, 0.25, 0.4, 0.5, 0.75, 1.0),
    "content": (0.0, 0.05, 0.1, 0.25),
    "popularity": (0.0, 0.05, 0.1, 0.25),
}


class Lab:
    def __init__(self, dataset: str) -> None:
        cached = json.loads(_path(dataset).read_text())
        self.truth = [set(t) for t in cached["truth"]]
        self.history = np.array(cached["history"])
        self.lists = cached["lists"]
        #: the shipped blend's components (the one-off signals are added by `variants`)
        self.names = sorted(n for n in self.lists if n in GRID and n != "transition")
        keep = [i for i, t in enumerate(self.truth) if t]
        self.users = keep
        #: 20 random halvings of the learners, each used both ways (choose on one, report on other)
        self.halvings = []
        for seed in range(20):
            order = random.Random(seed).sample(keep, len(keep))
            a, b = order[: len(order) // 2], order[len(order) // 2 :]
            self.halvings += [(a, b), (b, a)]

    def ndcg_matrix(
        self, users: Sequence[int], norm: Callable, pool: int, grid: dict, names: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(settings, per-user NDCG@10 for each setting) -> shape (settings, users)."""
        settings = np.array([v for v in itertools.product(*(grid[n] for n in names)) if sum(v) > 0])
        weights = settings / settings.sum(axis=1, keepdims=True)
        discount = 1.0 / np.log2(np.arange(2, 12))
        out = np.zeros((len(settings), len(users)))
        for j, u in enumerate(users):
            scores: dict[str, np.ndarray] = {}
            for c, name in enumerate(names):
                items = self.lists[name][u][:pool]
                if not items:
                    continue
                values = norm(np.array([s for _, s in items], dtype=float))
                for (course, _), v in zip(items, values, strict=True):
                    scores.setdefault(course, np.zeros(len(names)))[c] = v
            courses = sorted(scores)
            blended = np.stack([scores[c] for c in courses]) @ weights.T
            hits = np.array([c in self.truth[u] for c in courses])
            depth = min(10, len(courses))
            order = np.argsort(-blended, axis=0, kind="stable")[:depth]
            ideal = discount[: min(10, len(self.truth[u]))].sum()
            out[:, j] = (hits[order] * discount[:depth, None]).sum(axis=0) / ideal
        return settings, out

    def cross(self, norm: Callable, pool: int, grid: dict = GRID, names=None) -> dict:
        """Choose on one half, report on the other (mean over the halvings); plus the best
        setting on every learner."""
        names = names or self.names
        settings, m = self.ndcg_matrix(self.users, norm, pool, grid, names)
        pos = {u: j for j, u in enumerate(self.users)}
        held = []
        for a, b in self.halvings:
            ia = [pos[u] for u in a]
            ib = [pos[u] for u in b]
            best = int(np.argmax(m[:, ia].mean(axis=1)))
            held.append(m[best, ib].mean())
        best = int(np.argmax(m.mean(axis=1)))
        return {
            "cross": float(np.mean(held)),
            "all": float(m[best].mean()),
            "weights": dict(zip(names, settings[best].tolist(), strict=True)),
            "matrix": (settings, m),
        }


def buckets(lab: Lab, norm: Callable, pool: int, edges: Sequence[int]) -> float:
    """Weights searched per history-length bucket (choose on one half, report on the other)."""
    settings, m = lab.ndcg_matrix(lab.users, norm, pool, GRID, lab.names)
    pos = {u: j for j, u in enumerate(lab.users)}
    held = []
    for a, b in lab.halvings:
        total = 0.0
        for low, high in itertools.pairwise((0, *edges, 10**9)):
            ia = [pos[u] for u in a if low <= lab.history[u] < high]
            ib = [pos[u] for u in b if low <= lab.history[u] < high]
            if not ib:
                continue
            best = int(np.argmax(m[:, ia].mean(axis=1))) if ia else 0
            total += m[best, ib].sum()
        held.append(total / len(b))
    return float(np.mean(held))


def variants(dataset: str, extra: Sequence[str]) -> None:
    lab = Lab(dataset)
    base = lab.names
    if "transition" in lab.lists:
        one = {n: ((1.0,) if n == "transition" else (0.0,)) for n in [*base, "transition"]}
        alone = lab.cross(minmax, 100, one, [*base, "transition"])["all"]
        print(f"  transition alone: {alone:.4f}")
    for swap in extra:
        added = swap.split("+")
        # a two_tower variant replaces two_tower unless two_tower is named too
        replaced = (
            {"two_tower"}
            if any(a.startswith("two_tower_") or a == "two_tower5" for a in added)
            and "two_tower" not in added
            else set()
        )
        names = sorted({*base, *added} - replaced)
        grid = GRID | {
            a: GRID["two_tower" if a.startswith("two_tower") else "item_cf"]
            for a in added
            if a not in GRID
        }
        for pool in (100, 50):
            r = lab.cross(minmax, pool, grid, names)
            print(
                f"  {names} pool {pool}: cross {r['cross']:.4f} all {r['all']:.4f} {r['weights']}",
                flush=True,
            )
    quart = np.percentile(lab.history[lab.users], [33, 67, 50])
    for edges in ([int(quart[2])], [int(quart[0]), int(quart[1])]):
        print(
            f"  buckets by history length {edges}: cross {buckets(lab, minmax, 100, edges):.4f}",
            flush=True,
        )


def blend(dataset: str, weights: str) -> None:
    """NDCG@10 of the blend with the given fixed weights over every cached learner (no choice)."""
    lab = Lab(dataset)
    fixed = {n: float(w) for n, w in (p.split(":") for p in weights.split(","))}
    names = sorted(fixed)
    grid = {n: (fixed[n],) for n in names}
    _, m = lab.ndcg_matrix(lab.users, minmax, 100, grid, names)
    print(
        f"{dataset} {SPLIT['name']} blend {fixed}: ndcg@10 {m[0].mean():.4f} ({len(lab.users)} learners)"
    )


def score(dataset: str) -> None:
    lab = Lab(dataset)
    print(f"{dataset}: {len(lab.users)} validation learners with something to find")
    for name in lab.names:
        one = {n: ((1.0,) if n == name else (0.0,)) for n in lab.names}
        print(f"  {name} alone: {lab.cross(minmax, 100, one)['all']:.4f}")
    rows = []
    norms = {
        "minmax": minmax,
        "zscore": zscore,
        "by_top": by_top,
        "softmax0.5": softmax(0.5),
        "softmax1": softmax(1.0),
        "softmax2": softmax(2.0),
        "rank": rank_based,
    }
    for pool in (100, 50, 30, 20):
        for label, norm in norms.items():
            if pool != 100 and label not in ("minmax", "zscore", "softmax1"):
                continue
            r = lab.cross(norm, pool)
            rows.append((pool, label, r["cross"], r["all"], r["weights"]))
            print(
                f"  pool {pool:3d} {label:11s} cross {r['cross']:.4f} all {r['all']:.4f} "
                f"{r['weights']}",
                flush=True,
            )
    sys.stdout.flush()


def choice(dataset: str) -> None:
    """Ways to choose the weights from the validation figures, beside the shipped argmax: the
    best after averaging each grid point with its neighbours (L1 distance of the normalised
    weights <= d), the mean of the top-n settings' weights, and the mean of the argmax over 50
    bootstrap draws of the learners; each chosen on one half, reported on the other ("cross")."""
    lab = Lab(dataset)
    settings, m = lab.ndcg_matrix(lab.users, minmax, 100, GRID, lab.names)
    shares = settings / settings.sum(axis=1, keepdims=True)
    near = np.abs(shares[:, None, :] - shares[None, :, :]).sum(axis=2)
    pos = {u: j for j, u in enumerate(lab.users)}

    def smoothed(d: float) -> Callable[[np.ndarray], np.ndarray]:
        kernel = (near <= d + 1e-9).astype(float)
        kernel /= kernel.sum(axis=1, keepdims=True)
        return lambda cols: shares[int(np.argmax(kernel @ m[:, cols].mean(axis=1)))]

    def top(n: int) -> Callable[[np.ndarray], np.ndarray]:
        return lambda cols: shares[np.argsort(-m[:, cols].mean(axis=1))[:n]].mean(axis=0)

    def bagged(cols: np.ndarray) -> np.ndarray:
        draws = np.random.default_rng(0).choice(cols, (50, len(cols)))
        return np.mean([shares[int(np.argmax(m[:, d].mean(axis=1)))] for d in draws], axis=0)

    rules = {"argmax (shipped)": smoothed(0.0), "smoothed 0.2": smoothed(0.2)}
    rules |= {"smoothed 0.35": smoothed(0.35), "smoothed 0.5": smoothed(0.5)}
    rules |= {"top 5": top(5), "top 20": top(20), "bagged 50": bagged}
    for label, rule in rules.items():
        held = []
        for a, b in lab.halvings:
            w = rule(np.array([pos[u] for u in a]))
            grid = {n: (float(v),) for n, v in zip(lab.names, w, strict=True)}
            held.append(lab.ndcg_matrix(b, minmax, 100, grid, lab.names)[1].mean())
        w = rule(np.arange(len(lab.users)))
        print(
            f"  {label:16s} cross {np.mean(held):.4f} "
            f"{dict(zip(lab.names, np.round(w, 3).tolist(), strict=True))}",
            flush=True,
        )


#: one-off signals with named settings (`--set key=value`) and their own cache slot (`--slot`)
SIGNALS: dict[str, Callable[..., None]] = {
    "vae": vae,
    "ease": ease_sweep,
    "gfcf": gfcf,
    "recvae": recvae,
    "stars": stars_sweep,
    "higher": higher,
    "cease": cease,
    "demographics": demographics,
    "slis": slis,
    "sessions": sessions,
    "ials": ials,
    "infae": infae,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "command",
        choices=[
            "fit",
            "score",
            "transition",
            "variants",
            "userknn",
            "timepop",
            "puresvd",
            "blend",
            "choice",
            *SIGNALS,
        ],
    )
    parser.add_argument("--slot", default="", help="vae ...: the cache slot of the signal")
    parser.add_argument(
        "--set", action="append", default=[], help="vae ...: a setting, e.g. --set epochs=200"
    )
    parser.add_argument(
        "--extra", default="", help="variants: component sets, e.g. two_tower5,transition"
    )
    parser.add_argument("--dataset", choices=["ml-100k", "cnpc"], default="ml-100k")
    parser.add_argument(
        "--split",
        choices=["validation", "test"],
        default="validation",
        help="test: fit on the evaluation's training part and score its test learners",
    )
    parser.add_argument(
        "--weights", default="", help="blend: fixed weights, e.g. item_cf:0.25,two_tower:0.25"
    )
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--window", type=int, default=3)
    parser.add_argument("--decay", type=float, default=0.5)
    parser.add_argument("--only", default="", help="fit only these components (comma-separated)")
    args = parser.parse_args()
    SPLIT["name"] = args.split
    if args.command == "blend":
        blend(args.dataset, args.weights)
    elif args.command == "fit":
        fit(args.dataset, args.data_dir, [n for n in args.only.split(",") if n])
    elif args.command == "choice":
        choice(args.dataset)
    elif args.command == "variants":
        variants(args.dataset, [n for n in args.extra.split(",") if n])
    elif args.command == "userknn":
        userknn(args.dataset, args.data_dir, args.window, args.decay)
    elif args.command in SIGNALS:
        settings = {k: float(v) for k, v in (kv.split("=") for kv in args.set)}
        SIGNALS[args.command](
            args.dataset, args.data_dir, **({"slot": args.slot} if args.slot else {}), **settings
        )
    elif args.command == "puresvd":
        puresvd(args.dataset, args.data_dir, args.window)
    elif args.command == "timepop":
        timepop(args.dataset, args.data_dir, args.decay)
    elif args.command == "transition":
        transition(args.dataset, args.data_dir, args.window, args.decay)
    else:
        score(args.dataset)


if __name__ == "__main__":
    main()
