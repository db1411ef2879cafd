"""Training batches built as arrays say the same as the per-request feature encoders."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from adapters.two_tower.batches import HistoryArrays, subset_bag, target_matrix
from adapters.two_tower.features import CourseFeatures, LearnerFeatures
from adapters.two_tower.training import training_threads
from domain.model import DEFAULT_EVENT_WEIGHTS
from tests.conftest import course

COURSES = [course(f"c{i}", category=("data", "web", "")[i % 3]) for i in range(12)]
INDEX = {c.course_id: i for i, c in enumerate(COURSES)}
CATEGORIES = {c.course_id: c.category for c in COURSES}
HISTORIES = {
    "ann": {"c3": 6.0, "c1": 1.0, "c7": 4.0},
    "bob": {"c0": 2.0},
    "cy": {},
    "dee": {"c11": 1.0, "c2": 1.0, "c5": 6.0, "c9": 2.0},
}


def test_a_batch_of_histories_encodes_exactly_as_a_served_learner_would_be():
    for decay in (1.0, 0.5):
        arrays = HistoryArrays(HISTORIES, INDEX, CATEGORIES, 1 << 10, decay)
        fast = arrays.bag([arrays.parts[u] for u in HISTORIES])
        served = LearnerFeatures(1 << 10, 1 << 8, DEFAULT_EVENT_WEIGHTS, decay).history_bag(
            list(HISTORIES.values()), CATEGORIES
        )
        assert fast.indices.tolist() == served.indices.tolist()
        assert fast.offsets.tolist() == served.offsets.tolist()
        assert np.allclose(fast.weights, served.weights)
        assert (fast.recent is None) == (served.recent is None)
        if decay < 1.0:
            assert np.allclose(fast.recent, served.recent)


def test_a_subset_of_the_catalog_bag_holds_just_those_courses_features():
    features = CourseFeatures(1 << 10)
    whole = features.encode(COURSES)
    rows = np.array([2, 5, 11])
    part = subset_bag(whole, rows)
    alone = features.encode([COURSES[i] for i in rows])
    assert part.indices.tolist() == alone.indices.tolist()
    assert part.offsets.tolist() == alone.offsets.tolist()
    assert np.allclose(part.weights, alone.weights)


def test_targets_spread_each_learners_weight_over_the_courses_they_want():
    arrays = HistoryArrays(HISTORIES, INDEX, CATEGORIES, 1 << 10, 1.0)
    parts = [arrays.parts["ann"], arrays.parts["bob"]]
    whole = target_matrix(parts, None, len(COURSES))
    assert torch.allclose(whole.sum(dim=1), torch.ones(2))
    assert whole[0, 3].item() == pytest.approx(6 / 11) and whole[1, 0] == 1.0
    columns = np.array([0, 1, 3, 7, 9])
    narrow = target_matrix(parts, columns, len(columns))
    assert narrow[0].tolist() == pytest.approx([0.0, 1 / 11, 6 / 11, 4 / 11, 0.0])


def test_training_uses_the_thread_setting_and_otherwise_one_thread_per_idle_core(monkeypatch):
    assert training_threads(3) == 3
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    monkeypatch.setattr("os.getloadavg", lambda: (0.1, 0.0, 0.0))
    assert training_threads(0) == 2
    monkeypatch.setattr("os.getloadavg", lambda: (7.5, 0.0, 0.0))
    assert training_threads(0) == 1
