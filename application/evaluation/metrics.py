"""Ranking metrics at K with binary relevance, averaged over the learners that have test items.

Conventions (the ones of Microsoft Recommenders' MovieLens comparison, so the rows are comparable):
- precision@K = hits in the top K / K (K, not the list length, even when fewer were returned);
- recall@K = hits / number of relevant items;
- NDCG@K = DCG / ideal DCG, gains 1 / log2(rank + 1), ideal over min(K, relevant) items;
- MAP@K = sum of precision@rank at each hit / number of relevant items (divisor NOT capped at K);
- hit rate@K = share of learners with at least one hit;
- coverage@K = distinct recommended items / catalog size;
- novelty (mean popularity rank) = mean over all recommended items of the item's training-popularity
  rank (1 = most popular); higher means less obvious recommendations.

How sure a figure is: a percentile bootstrap over the evaluated learners (each draw takes as many
learners as were evaluated, with replacement) gives a 95% interval for a strategy's mean, and, with
the same draws for every strategy, for the difference between two strategies on the same learners
(paired: much narrower than comparing two separate intervals, as learners who are easy to serve
are easy for every strategy).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

#: bootstrap draws for the intervals
DRAWS = 1000


def precision_at_k(ranked: Sequence[Hashable], relevant: set[Hashable], k: int) -> float:
    return sum(1 for item in ranked[:k] if item in relevant) / k


def recall_at_k(ranked: Sequence[Hashable], relevant: set[Hashable], k: int) -> float:
    return sum(1 for item in ranked[:k] if item in relevant) / len(relevant)


def ndcg_at_k(ranked: Sequence[Hashable], relevant: set[Hashable], k: int) -> float:
    dcg = sum(
        1.0 / math.log2(rank + 1)
        for rank, item in enumerate(ranked[:k], start=1)
        if item in relevant
    )
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(k, len(relevant)) + 1))
    return dcg / ideal


def average_precision_at_k(ranked: Sequence[Hashable], relevant: set[Hashable], k: int) -> float:
    hits = 0
    total = 0.0
    for rank, item in enumerate(ranked[:k], start=1):
        if item in relevant:
            hits += 1
            total += hits / rank
    return total / len(relevant)


def hit_at_k(ranked: Sequence[Hashable], relevant: set[Hashable], k: int) -> float:
    return 1.0 if any(item in relevant for item in ranked[:k]) else 0.0


@dataclass(frozen=True, slots=True)
class MetricSummary:
    precision: float
    recall: float
    ndcg: float
    map: float
    hit_rate: float
    coverage: float
    novelty: float
    users_evaluated: int
    users_skipped: int
    #: "ndcg" and "recall" of every evaluated learner, in the order of `truth` (for the intervals)
    per_learner: Mapping[str, tuple[float, ...]] = field(default_factory=dict, compare=False)


def summarise(
    recommendations: Mapping[Hashable, Sequence[Hashable]],
    truth: Mapping[Hashable, set[Hashable]],
    k: int,
    catalog_size: int,
    popularity_rank: Mapping[Hashable, int],
) -> MetricSummary:
    """Average the per-learner metrics over learners with test items; the others are skipped."""
    evaluated = [u for u, items in truth.items() if items]
    skipped = len(truth) - len(evaluated)
    if not evaluated:
        return MetricSummary(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, skipped)
    per_learner: list[list[float]] = [[] for _ in range(5)]
    shown: list[Hashable] = []
    for user in evaluated:
        ranked = list(recommendations.get(user, ()))[:k]
        shown.extend(ranked)
        relevant = truth[user]
        for i, metric in enumerate(
            (precision_at_k, recall_at_k, ndcg_at_k, average_precision_at_k, hit_at_k)
        ):
            per_learner[i].append(metric(ranked, relevant, k))
    sums = [sum(values) for values in per_learner]
    n = len(evaluated)
    worst = len(popularity_rank) + 1
    novelty = sum(popularity_rank.get(item, worst) for item in shown) / len(shown) if shown else 0.0
    return MetricSummary(
        precision=sums[0] / n,
        recall=sums[1] / n,
        ndcg=sums[2] / n,
        map=sums[3] / n,
        hit_rate=sums[4] / n,
        coverage=len(set(shown)) / catalog_size if catalog_size else 0.0,
        novelty=novelty,
        users_evaluated=n,
        users_skipped=skipped,
        per_learner={"recall": tuple(per_learner[1]), "ndcg": tuple(per_learner[2])},
    )


def resamples(learners: int, seed: int, draws: int = DRAWS) -> np.ndarray:
    """`draws` bootstrap samples of the evaluated learners (rows of positions), the same for
    every strategy of one evaluation so that differences are paired."""
    return np.random.default_rng(seed).integers(0, learners, size=(draws, learners), dtype=np.int32)


def interval(values: Sequence[float], samples: np.ndarray) -> tuple[float, float]:
    """The 95% percentile-bootstrap interval of the mean of per-learner `values`."""
    means = np.asarray(values, dtype=float)[samples].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)
