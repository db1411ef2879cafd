"""Our protocol and metrics reproduce the published numbers on real data."""

from __future__ import annotations

import pytest

from adapters.datasets import CnpcSource, MovieLensSource
from adapters.popularity import PopularityRecommender
from application.use_cases.evaluate_strategies import EvaluateStrategies, EvaluationQuery

pytestmark = pytest.mark.realdata


def most_popular(dataset, protocol):  # type: ignore[no-untyped-def]
    use_case = EvaluateStrategies({"popularity": lambda: PopularityRecommender(None)})
    return (
        use_case.execute(EvaluationQuery(dataset, ["popularity"], protocol, k=10, seed=42))
        .results[0]
        .metrics
    )


def test_most_popular_on_movielens_matches_the_published_row(movielens_dir):
    data = MovieLensSource(movielens_dir).load()
    assert (len(data.courses), len(data.interactions)) == (1682, 100_000)
    metrics = most_popular(data, "random")
    # Microsoft Recommenders' MovieLens-100K comparison, "Most popular": within 10% relative.
    assert metrics.ndcg == pytest.approx(0.2529, rel=0.10)
    assert metrics.precision == pytest.approx(0.2246, rel=0.10)
    assert metrics.recall == pytest.approx(0.1117, rel=0.10)
    assert metrics.users_evaluated == 943


def test_cnpc_fixed_split_is_used_as_given(cnpc_dir):
    data = CnpcSource(cnpc_dir).load()
    assert (len(data.courses), len(data.interactions), len(data.fixed_test or [])) == (
        238,
        45_735,
        11_048,
    )
    metrics = most_popular(data, "fixed")
    assert metrics.users_evaluated == 6717
    assert metrics.recall == pytest.approx(0.045, abs=0.005)
