"""Metrics against hand-computed cases."""

from __future__ import annotations

import math

import pytest

from application.evaluation.metrics import (
    average_precision_at_k,
    hit_at_k,
    interval,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    resamples,
    summarise,
)

RANKED = ["a", "b", "c", "d"]
RELEVANT = {"b", "d", "z"}


def test_precision_divides_by_k_even_when_fewer_items_were_returned():
    assert precision_at_k(RANKED, RELEVANT, 4) == pytest.approx(2 / 4)
    assert precision_at_k(RANKED, RELEVANT, 10) == pytest.approx(2 / 10)


def test_recall_divides_by_the_relevant_items():
    assert recall_at_k(RANKED, RELEVANT, 2) == pytest.approx(1 / 3)
    assert recall_at_k(RANKED, RELEVANT, 4) == pytest.approx(2 / 3)


def test_ndcg_by_hand():
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(RANKED, RELEVANT, 4) == pytest.approx(dcg / ideal)


def test_ndcg_ideal_is_capped_at_k():
    assert ndcg_at_k(["x", "y"], {"x", "y", "z"}, 2) == pytest.approx(1.0)


def test_average_precision_divides_by_all_relevant_items():
    assert average_precision_at_k(RANKED, RELEVANT, 4) == pytest.approx((1 / 2 + 2 / 4) / 3)


def test_hit_rate():
    assert hit_at_k(RANKED, RELEVANT, 1) == 0.0
    assert hit_at_k(RANKED, RELEVANT, 2) == 1.0


def test_k_larger_than_the_candidate_set():
    assert precision_at_k(["a"], {"a"}, 10) == pytest.approx(0.1)
    assert recall_at_k(["a"], {"a"}, 10) == 1.0
    assert ndcg_at_k(["a"], {"a"}, 10) == 1.0


def test_users_without_test_items_are_skipped_and_counted():
    summary = summarise(
        {"u1": ["a", "b"], "u2": ["c"], "u3": ["a"]},
        {"u1": {"a"}, "u2": {"x"}, "u3": set()},
        k=2,
        catalog_size=4,
        popularity_rank={"a": 1, "b": 2, "c": 3, "x": 4},
    )
    assert (summary.users_evaluated, summary.users_skipped) == (2, 1)
    assert summary.precision == pytest.approx((1 / 2 + 0) / 2)
    assert summary.recall == pytest.approx((1 + 0) / 2)
    assert summary.hit_rate == pytest.approx(0.5)
    assert summary.coverage == pytest.approx(3 / 4)
    assert summary.novelty == pytest.approx((1 + 2 + 3) / 3)


def test_a_user_with_no_recommendations_scores_zero():
    summary = summarise({}, {"u1": {"a"}}, k=10, catalog_size=1, popularity_rank={"a": 1})
    assert summary.ndcg == 0.0 and summary.coverage == 0.0


def test_the_interval_holds_the_mean_and_narrows_with_more_learners():
    # half of the learners found what they were looking for: a mean of 0.5
    few, many = [1.0, 0.0] * 50, [1.0, 0.0] * 2000
    low, high = interval(few, resamples(len(few), seed=1))
    assert low < 0.5 < high and 0.15 < high - low < 0.25  # about ±1.96 x 0.05
    narrow = interval(many, resamples(len(many), seed=1))
    assert narrow[0] < 0.5 < narrow[1] and narrow[1] - narrow[0] < (high - low) / 5
    assert interval(few, resamples(len(few), seed=1)) == (low, high)  # seeded
    assert interval([0.3] * 10, resamples(10, seed=2)) == pytest.approx((0.3, 0.3))


def test_summaries_keep_each_learners_figures_for_the_intervals():
    summary = summarise(
        {"u1": ["a", "b"], "u2": ["c"], "u3": ["a"]},
        {"u1": {"b"}, "u2": {"x"}, "u3": set()},
        k=2,
        catalog_size=4,
        popularity_rank={"a": 1, "b": 2, "c": 3},
    )
    assert summary.per_learner["recall"] == (1.0, 0.0)  # u3 has nothing to find: skipped
    assert summary.per_learner["ndcg"] == pytest.approx((1 / math.log2(3), 0.0))
    assert sum(summary.per_learner["ndcg"]) / 2 == pytest.approx(summary.ndcg)
