"""A strategy restored from what the trainer published answers exactly as the fitted one did."""

from __future__ import annotations

import pytest

from adapters.demo_data import demo_data
from adapters.item_cf import ItemCFRecommender
from adapters.popularity import PopularityRecommender
from adapters.sequence import SequenceRecommender
from adapters.tfidf import ContentRecommender
from domain.model import LearnerHistory, UserId

STRATEGIES = {
    "popularity": lambda: PopularityRecommender(30.0),
    "content": ContentRecommender,
    "item_cf": lambda: ItemCFRecommender(regularization=50.0),
    "item_cf_proximity": lambda: ItemCFRecommender(regularization=50.0, proximity_weight=4.0),
    "item_knn": lambda: ItemCFRecommender(max_dense_items=0),
    "sequence": SequenceRecommender,
}


@pytest.fixture(scope="module")
def demo():  # type: ignore[no-untyped-def]
    return demo_data(seed=2, learners=200)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_a_restored_strategy_recommends_and_explains_like_the_fitted_one(demo, name):
    fitted = STRATEGIES[name]()
    fitted.fit(demo.courses, demo.interactions)
    files, manifest = fitted.dump()
    assert all(isinstance(data, bytes) for data in files.values())
    restored = STRATEGIES[name]()
    restored.restore(files, manifest, {c.course_id: c for c in demo.courses})
    for user in ("user1", "user7", "user42", "nobody"):
        learner = LearnerHistory(
            UserId(user), tuple(e for e in demo.interactions if e.user_id == user)
        )
        before = fitted.recommend(learner, 10, learner.taken())
        after = restored.recommend(learner, 10, learner.taken())
        assert [(r.course_id, r.reason) for r in after] == [(r.course_id, r.reason) for r in before]
        assert [r.score for r in after] == pytest.approx([r.score for r in before], rel=1e-5)
    if name != "popularity":
        source = demo.courses[3].course_id
        assert [r.course_id for r in restored.similar(source, 5)] == [
            r.course_id for r in fitted.similar(source, 5)
        ]


def test_a_restored_strategy_names_courses_as_the_catalog_has_them_now(demo):
    fitted = ContentRecommender()
    fitted.fit(demo.courses, demo.interactions)
    renamed = {c.course_id: c for c in demo.courses}
    first = demo.courses[0]
    renamed[first.course_id] = type(first)(**{**_fields(first), "title": "Renamed"})
    restored = ContentRecommender()
    restored.restore(*fitted.dump(), renamed)
    learner = LearnerHistory(
        UserId("fan"), tuple(e for e in demo.interactions if e.course_id == first.course_id)[:1]
    )
    reasons = [r.reason for r in restored.recommend(learner, 5)]
    assert any("Renamed" in reason for reason in reasons)


def _fields(course):  # type: ignore[no-untyped-def]
    return {name: getattr(course, name) for name in course.__dataclass_fields__}


def test_a_restored_item_cf_reports_the_proximity_weight_it_was_fitted_with(demo):
    fitted = ItemCFRecommender(regularization=50.0, proximity_weight=4.0)
    fitted.fit(demo.courses, demo.interactions)
    files, manifest = fitted.dump()
    catalog = {c.course_id: c for c in demo.courses}
    restored = ItemCFRecommender()
    restored.restore(files, manifest, catalog)
    assert restored.fitted_settings()["proximity_weight"] == 4.0
    # a model published before the setting existed was fitted without it
    older = {**manifest, "model": {"regularization": 50.0, "recency_decay": 1.0}}
    older["settings"] = older["model"]
    restored.restore(files, older, catalog)
    assert restored.fitted_settings()["proximity_weight"] == 0.0
