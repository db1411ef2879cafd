"""Small numpy helpers shared by the recommenders."""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the k highest finite scores, best first (ties broken by index)."""
    finite = np.flatnonzero(np.isfinite(scores))
    if finite.size == 0 or k <= 0:
        return []
    k = min(k, finite.size)
    candidates = finite[np.argpartition(-scores[finite], k - 1)[:k]]
    order = np.lexsort((candidates, -scores[candidates]))
    return [int(i) for i in candidates[order]]
