"""The `implicit` library's ALS and BPR behind our Recommender port: the side-by-side peer.

Optional: installed with the `peer` extra. Settings follow implicit's documentation and were
tuned on a validation split of the training data (docs/results.md records the search).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse

from adapters.scoring import ScoringRecommender
from domain.errors import StrategyUnavailable
from domain.model import Course, Interaction, LearnerHistory

ALS_SETTINGS = {"factors": 32, "regularization": 0.2, "alpha": 2.0, "iterations": 15}
BPR_SETTINGS = {"factors": 64, "learning_rate": 0.01, "regularization": 0.01, "iterations": 100}


class ImplicitRecommender(ScoringRecommender):
    def __init__(self, algorithm: str = "als", seed: int = 42, **settings: Any) -> None:
        self.algorithm = algorithm
        self.name = f"implicit-{algorithm}"
        self.settings = {**(ALS_SETTINGS if algorithm == "als" else BPR_SETTINGS), **settings}
        self.seed = seed
        self.index_catalog([])
        self.users: dict[str, int] = {}

    def fitted_settings(self) -> dict[str, Any]:
        return dict(self.settings)

    def fit(self, courses: Sequence[Course], interactions: Sequence[Interaction]) -> None:
        try:
            from implicit.als import AlternatingLeastSquares
            from implicit.bpr import BayesianPersonalizedRanking
            from threadpoolctl import threadpool_limits
        except ImportError:
            raise StrategyUnavailable(
                "the implicit peer needs the 'peer' extra: pip install -e '.[peer]'"
            ) from None
        self.index_catalog(courses)
        known = [e for e in interactions if e.course_id in self.index]
        self.users = {u: i for i, u in enumerate(sorted({e.user_id for e in known}))}
        rows = np.fromiter((self.users[e.user_id] for e in known), dtype=np.int64)
        columns = np.fromiter((self.index[e.course_id] for e in known), dtype=np.int64)
        matrix = sparse.csr_matrix(
            (np.ones(len(known), dtype=np.float32), (rows, columns)),
            shape=(len(self.users), len(self.courses)),
        )
        matrix.data[:] = 1.0  # repeated events count once: binary implicit feedback
        model_class = (
            AlternatingLeastSquares if self.algorithm == "als" else BayesianPersonalizedRanking
        )
        # implicit's own advice: its threads, not BLAS's, do the parallel work.
        with threadpool_limits(1, "blas"):
            self.model = model_class(random_state=self.seed, use_gpu=False, **self.settings)
            self.model.fit(matrix, show_progress=False)
        self.user_factors = np.asarray(self.model.user_factors)
        self.item_factors = np.asarray(self.model.item_factors)

    def scores(self, learners: Sequence[LearnerHistory]) -> np.ndarray:
        result = np.full((len(learners), len(self.courses)), -np.inf)
        known = [
            (row, self.users[learner.user_id])
            for row, learner in enumerate(learners)
            if learner.user_id in self.users
        ]
        if known:
            rows, users = (np.array(x) for x in zip(*known, strict=True))
            result[rows] = self.user_factors[users] @ self.item_factors.T
        return result

    def reason(self, learner: LearnerHistory, row: int) -> str:
        return "Learners with tastes like yours chose this"
