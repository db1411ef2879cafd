"""The hybrid's weights by validation: a grid over fitted components' candidate lists.

Each component is fitted and asked for its candidates once; every weight setting then re-blends
those lists as the hybrid does (each component's scores min-max normalised over its own
candidates, weights renormalised to sum to 1), as one matrix product per learner.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np

from application.ranking import normalised
from domain.model import CourseId, Recommendation

#: weights tried per component: the collaborative ones carry the blend, the others season it
GRID: Mapping[str, tuple[float, ...]] = {
    "item_cf": (0.0, 0.25, 0.5, 1.0),
    "sequence": (0.0, 0.25, 0.5, 1.0),
    "two_tower": (0.0, 0.25, 0.5, 1.0),
    "content": (0.0, 0.1, 0.25),
    "popularity": (0.0, 0.1, 0.25),
}
OTHER = (0.0, 0.25, 1.0)


def search_weights(
    lists: Mapping[str, Sequence[Sequence[Recommendation]]],
    truth: Sequence[set[CourseId]],
    k: int = 10,
) -> tuple[dict[str, float], float]:
    """The weights (over `lists`' components) with the best mean NDCG@k, and that NDCG."""
    names = sorted(lists)
    settings = np.array(
        [
            values
            for values in itertools.product(*(GRID.get(n, OTHER) for n in names))
            if sum(values) > 0
        ]
    )
    if not names or settings.size == 0:
        return {}, 0.0
    normalised_settings = settings / settings.sum(axis=1, keepdims=True)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    totals = np.zeros(len(settings))
    for user, relevant in enumerate(truth):
        scores: dict[CourseId, np.ndarray] = {}
        for column, name in enumerate(names):
            for course_id, value in normalised(lists[name][user]).items():
                scores.setdefault(course_id, np.zeros(len(names)))[column] = value
        if not scores or not relevant:
            continue
        courses = sorted(scores)
        blended = np.stack([scores[c] for c in courses]) @ normalised_settings.T
        hits = np.array([c in relevant for c in courses])
        depth = min(k, len(courses))
        order = np.argsort(-blended, axis=0, kind="stable")[:depth]
        gains = hits[order] * discount[:depth, None]
        ideal = discount[: min(k, len(relevant))].sum()
        totals += gains.sum(axis=0) / ideal
    best = int(np.argmax(totals))
    # averaged as the single strategies' validation figures are: over learners with something to find
    users = max(1, sum(1 for relevant in truth if relevant))
    return {n: float(w) for n, w in zip(names, settings[best], strict=True)}, totals[best] / users
