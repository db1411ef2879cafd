"""One contract every recommender keeps, whatever its strategy."""

from __future__ import annotations

import json

import pytest

from adapters.item_cf import ItemCFRecommender
from adapters.popularity import PopularityRecommender
from adapters.sequence import SequenceRecommender
from adapters.tfidf import ContentRecommender
from domain.errors import UnknownCourse
from domain.model import CourseId, LearnerHistory, UserId
from tests.conftest import CATALOG, event

EVENTS = [
    event("u1", "course_python_basic", "complete", 1),
    event("u1", "course_sql_basic", "view", 2),
    event("u2", "course_python_basic", "enroll", 3),
    event("u2", "course_ml_basic", "enroll", 4),
    event("u3", "course_ml_basic", "click", 5),
    event("u3", "course_spanish_basic", "view", 6),
]


@pytest.fixture(
    params=[PopularityRecommender, ContentRecommender, ItemCFRecommender, SequenceRecommender],
    ids=lambda c: c.name,
)
def recommender(request):  # type: ignore[no-untyped-def]
    fitted = request.param()
    fitted.fit(CATALOG, EVENTS)
    return fitted


def learner(user: str) -> LearnerHistory:
    return LearnerHistory(UserId(user), tuple(e for e in EVENTS if e.user_id == user))


def test_recommendations_are_ranked_from_one_with_scores_descending(recommender):
    items = recommender.recommend(learner("u1"), 3)
    assert 0 < len(items) <= 3
    assert [r.rank for r in items] == list(range(1, len(items) + 1))
    assert [r.score for r in items] == sorted((r.score for r in items), reverse=True)
    assert all(r.strategy == recommender.name for r in items)


def test_excluded_courses_are_never_returned(recommender):
    exclude = frozenset({CourseId("course_python_intermediate"), CourseId("course_ml_basic")})
    items = recommender.recommend(learner("u1"), 10, exclude)
    assert not {r.course_id for r in items} & exclude


def test_every_recommendation_has_a_reason(recommender):
    assert all(r.reason for r in recommender.recommend(learner("u2"), 5))
    assert all(r.reason for r in recommender.similar(CourseId("course_python_basic"), 5))


def test_similar_never_returns_the_course_itself(recommender):
    items = recommender.similar(CourseId("course_python_basic"), 10)
    assert items and CourseId("course_python_basic") not in {r.course_id for r in items}


def test_similar_to_an_unknown_course_raises(recommender):
    with pytest.raises(UnknownCourse):
        recommender.similar(CourseId("nope"), 5)


def test_k_larger_than_the_catalog_returns_what_there_is(recommender):
    assert len(recommender.recommend(learner("u1"), 100)) <= len(CATALOG)


def test_what_a_request_is_served_is_what_the_evaluation_ranks(recommender):
    """scored() (what the hybrid blends) and recommend() (what home serves) against
    recommend_many() (what `recsys eval` measures), which scores learners in batches."""
    exclude = frozenset({CourseId("course_ml_basic")})
    for user in ("u1", "u2", "u3"):
        evaluated = recommender.recommend_many([learner(user)], 4, [exclude])[0]
        served = recommender.recommend(learner(user), 4, exclude)
        assert served == evaluated
        pairs = [(r.course_id, r.score) for r in evaluated]
        assert recommender.scored(learner(user), 4, exclude) == pairs


@pytest.mark.parametrize(
    "recommender_class",
    [PopularityRecommender, ContentRecommender, ItemCFRecommender, SequenceRecommender],
    ids=lambda c: c.name,
)
@pytest.mark.parametrize("catalog", [[], CATALOG], ids=["no courses", "courses without events"])
def test_a_recommender_fitted_before_there_is_data_recommends_what_it_can(
    recommender_class, catalog
):
    fitted = recommender_class()
    fitted.fit(catalog, [])
    assert len(fitted.recommend(learner("u1"), 5)) <= min(5, len(catalog))


def test_the_settings_it_was_fitted_with_can_be_written_to_an_evaluation_report(recommender):
    settings = recommender.fitted_settings()
    assert isinstance(settings, dict)
    assert json.loads(json.dumps(settings)) == settings  # `recsys eval --json` writes them
