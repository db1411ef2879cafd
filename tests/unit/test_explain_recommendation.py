"""The admin's "why (not) this course" agrees with the lists learners are served."""

from __future__ import annotations

from dataclasses import replace

import pytest

from adapters.fs_artifacts import FilesystemArtifactStore
from adapters.in_memory import InMemoryStore, InMemoryUnitOfWork
from adapters.item_cf import ItemCFRecommender
from adapters.popularity import PopularityRecommender
from adapters.tfidf import ContentRecommender
from application.hybrid import HybridRecommender
from application.strategies import StrategyRegistry
from application.use_cases.explain_recommendation import ExplainQuery, ExplainRecommendation
from application.use_cases.fit_strategies import FitStrategies
from application.use_cases.log_interactions import LogInteractions
from application.use_cases.recommend_home import RecommendHome, RecommendHomeQuery
from application.use_cases.upsert_courses import UpsertCourses
from domain.model import CourseId, Level, UserId
from tests.conftest import CATALOG, course, event
from tests.unit.test_use_cases import popularity_and_content, serving


@pytest.fixture
def uow():  # type: ignore[no-untyped-def]
    store = InMemoryStore()
    return lambda: InMemoryUnitOfWork(store)


@pytest.fixture
def registry(uow, tmp_path):  # type: ignore[no-untyped-def]
    return popularity_and_content(
        uow,
        tmp_path,
        [
            event("u1", "course_python_basic", "enroll", 1),
            event("u1", "course_ml_basic", "view", 2),
            event("u2", "course_python_basic", "complete", 3),
            event("u2", "course_old_cobol", "enroll", 4),
            event("u3", "course_sql_basic", "view", 5),
        ],
    )


@pytest.mark.parametrize("strategy", ["popularity", "content"])
def test_the_admin_explanation_gives_each_served_course_the_rank_and_reason_it_was_served_with(
    uow, registry, strategy
):
    served = RecommendHome(uow, registry).execute(
        RecommendHomeQuery(UserId("u1"), k=3, strategy=strategy)
    )
    assert served.items
    explain = ExplainRecommendation(uow, registry)
    for item in served.items:
        answer = explain.execute(ExplainQuery(UserId("u1"), item.course.course_id, strategy, k=3))
        entry = answer["strategies"][0]
        assert (entry["final_rank"], entry["reason"]) == (
            item.recommendation.rank,
            item.recommendation.reason,
        ), item.course.course_id


def test_a_course_the_learner_took_has_no_rank_and_is_said_never_to_be_shown(uow, registry):
    answer = ExplainRecommendation(uow, registry).execute(
        ExplainQuery(UserId("u1"), CourseId("course_python_basic"))
    )
    assert answer["removed_by"] == ["removed: the learner enrolled in it"]
    for entry in answer["strategies"]:  # whatever the strategy would score it, it is never shown
        assert entry["final_rank"] is None and entry["rank"] is None and entry["reason"] is None
        assert entry["note"] == "never shown to this learner: the learner enrolled in it"


def test_a_candidate_ranked_after_the_kth_is_said_to_be_outside_the_list(uow, registry):
    served = RecommendHome(uow, registry).execute(
        RecommendHomeQuery(UserId("u3"), k=3, strategy="popularity")
    )
    third = served.items[2].course.course_id
    answer = ExplainRecommendation(uow, registry).execute(
        ExplainQuery(UserId("u3"), third, "popularity", k=2)
    )
    [entry] = answer["strategies"]
    assert entry["final_rank"] is None
    assert entry["rules"][0] == (
        f"outside the list of 2: the ranking stage put it at place 3 of {entry['candidates']}"
    )


def test_the_admin_explanation_of_a_filtered_list_ranks_within_the_filter(uow, registry):
    """A learner served Data Science courses only: the explanation gives each one the rank it
    was served at, and a course outside the filter is said to be left out by it."""
    served = RecommendHome(uow, registry).execute(
        RecommendHomeQuery(UserId("u3"), k=3, strategy="popularity", category="Data Science")
    )
    assert served.items
    explain = ExplainRecommendation(uow, registry)
    for item in served.items:
        answer = explain.execute(
            ExplainQuery(
                UserId("u3"), item.course.course_id, "popularity", k=3, category="Data Science"
            )
        )
        assert answer["strategies"][0]["final_rank"] == item.recommendation.rank
    outside = explain.execute(
        ExplainQuery(
            UserId("u3"), CourseId("course_python_basic"), "popularity", category="Data Science"
        )
    )
    assert outside["removed_by"] == ["removed: outside the filters (category 'Data Science')"]
    assert outside["strategies"][0]["final_rank"] is None


def test_the_popular_courses_that_complete_a_short_list_are_explained_as_served(uow, registry):
    served = RecommendHome(uow, registry).execute(
        RecommendHomeQuery(UserId("u3"), k=8, strategy="content")
    )
    reasons = [item.recommendation.reason for item in served.items]
    assert any(r.startswith(("Popular", "A ")) for r in reasons), reasons  # some filled
    explain = ExplainRecommendation(uow, registry)
    for item in served.items:
        answer = explain.execute(ExplainQuery(UserId("u3"), item.course.course_id, "content", k=8))
        entry = answer["strategies"][0]
        assert (entry["final_rank"], entry["reason"]) == (
            item.recommendation.rank,
            item.recommendation.reason,
        ), item.course.course_id
        assert entry["note"].endswith("popular courses fill the rest")
        if item.recommendation.strategy == "popularity":  # the filled ones say so
            assert entry["rules"][0].startswith("a popular course completing the list")


def test_a_course_item_cf_does_not_recommend_is_said_to_have_nothing_pointing_to_it(uow, tmp_path):
    """Nobody else took SQL Basics: item_cf has nothing for its learner, home serves popular
    courses instead, and the explanation says why item_cf gave the course no rank."""
    UpsertCourses(uow).execute(CATALOG)
    LogInteractions(uow).execute(
        [
            event("u1", "course_python_basic", "enroll", 1),
            event("u1", "course_ml_basic", "view", 2),
            event("u2", "course_python_basic", "complete", 3),
            event("u3", "course_sql_basic", "view", 4),
        ]
    )
    registry = serving(
        uow,
        {
            "popularity": lambda: PopularityRecommender(None),
            "item_cf": lambda: ItemCFRecommender(regularization=1.0),
        },
        tmp_path,
    )
    served = RecommendHome(uow, registry).execute(
        RecommendHomeQuery(UserId("u3"), k=3, strategy="item_cf")
    )
    assert served.slate.strategy == "popularity" and served.slate.fallback_from == "item_cf"
    answer = ExplainRecommendation(uow, registry).execute(
        ExplainQuery(UserId("u3"), CourseId("course_python_basic"), "item_cf", k=3)
    )
    [entry] = answer["strategies"]
    assert entry["rank"] is None and entry["final_rank"] is None
    assert entry["rules"] == [
        "this strategy gives it no score: the learner's history as a whole does not speak for it"
    ]
    assert entry["note"] == "no candidates for this learner: popularity answers"
    UpsertCourses(uow).execute([course("course_new", "Brand New", "Programming")])
    for strategy in ("item_cf", "popularity"):
        answer = ExplainRecommendation(uow, registry).execute(
            ExplainQuery(UserId("u1"), CourseId("course_new"), strategy, k=3)
        )
        assert answer["strategies"][0]["rules"] == [
            "not known to this strategy's model yet: it learns of it when it is next fitted"
        ], strategy


def test_a_strategy_strict_prerequisites_leave_nothing_of_falls_back_to_popularity_and_says_so(
    uow, tmp_path
):
    """content finds only the quantum lab for a learner of the quantum primer, and the lab needs
    Lenses, not taken: with strict prerequisites nothing of content's is left. The list of popular
    courses was served as content's (no fallback_from), so analytics and the bandit credited
    content with popularity's courses, and explain said nothing of them. Now it is popularity's,
    fallen back from content, and explained as served."""
    UpsertCourses(uow).execute(
        [
            course("primer", "Quantum Physics Primer", "Physics", tags=("quantum",)),
            course(
                "lab",
                "Quantum Physics Lab",
                "Physics",
                Level.INTERMEDIATE,
                tags=("quantum",),
                prerequisites=("lenses",),
            ),
            course("lenses", "Lenses", "Optics", Level.INTERMEDIATE),
            course("cooking", "Spanish Cooking", "Food", Level.INTERMEDIATE),
        ]
    )
    LogInteractions(uow).execute(
        [
            event("u1", "primer", "enroll", 1),
            event("u2", "lenses", "complete", 2),
            event("u2", "cooking", "enroll", 3),
        ]
    )
    registry = serving(
        uow,
        {"popularity": lambda: PopularityRecommender(None), "content": ContentRecommender},
        tmp_path,
    )
    query = RecommendHomeQuery(UserId("u1"), k=3, strategy="content", strict_prerequisites=True)
    served = RecommendHome(uow, registry).execute(query)
    assert [i.course.course_id for i in served.items] == ["lenses", "cooking"]
    assert (served.slate.strategy, served.slate.fallback_from) == ("popularity", "content")
    assert {i.recommendation.strategy for i in served.items} == {"popularity"}
    explain = ExplainRecommendation(uow, registry)
    for item in served.items:
        asked = ExplainQuery(UserId("u1"), item.course.course_id, "content", True, k=3)
        [content] = explain.execute(asked)["strategies"]
        assert content["final_rank"] is None
        assert content["note"] == "the ranking stage removed all 1 candidates: popularity answers"
        [popular] = explain.execute(replace(asked, strategy="popularity"))["strategies"]
        assert (popular["final_rank"], popular["reason"]) == (
            item.recommendation.rank,
            item.recommendation.reason,
        ), item.course.course_id


@pytest.mark.parametrize(("strategy", "weights"), [("item_cf", None), ("hybrid", {"item_cf": 1.0})])
def test_a_strategy_that_knows_none_of_the_learners_courses_is_said_to_be_passed_over(
    uow, tmp_path, strategy, weights
):
    """A learner whose only course came after item_cf's fit is served popular courses (item_cf,
    or a hybrid asked to weigh only item_cf, has nothing to go on); the explanation said the
    strategy's ranking of them 'does not speak for' the course, as if it had weighed the
    learner's history."""
    UpsertCourses(uow).execute(CATALOG)
    LogInteractions(uow).execute(
        [
            event("u1", "course_python_basic", "enroll", 1),
            event("u1", "course_ml_basic", "view", 2),
            event("u2", "course_python_basic", "complete", 3),
        ]
    )
    factories = {
        "popularity": lambda: PopularityRecommender(None),
        "item_cf": lambda: ItemCFRecommender(regularization=1.0),
    }
    store = FilesystemArtifactStore(tmp_path)
    FitStrategies(uow, factories, store).execute()
    hybrid = {"hybrid": lambda parts: HybridRecommender(parts, {"popularity": 1, "item_cf": 1})}
    registry = StrategyRegistry(factories, uow, store, refresh_seconds=0, composites=hybrid)
    UpsertCourses(uow).execute([course("course_new", "Brand New")])
    LogInteractions(uow).execute([event("u9", "course_new", "enroll", 5)])
    served = RecommendHome(uow, registry).execute(
        RecommendHomeQuery(UserId("u9"), k=3, strategy=strategy, weights=weights)
    )
    assert served.slate.strategy == "popularity" and served.slate.fallback_from == strategy
    answer = ExplainRecommendation(uow, registry).execute(
        ExplainQuery(UserId("u9"), CourseId("course_python_basic"), strategy, k=3, weights=weights)
    )
    [entry] = answer["strategies"]
    assert "rank" not in entry and entry["note"] == (
        "its model knows none of the learner's courses yet: a home request serves popular "
        "courses instead"
    )


def test_a_course_placed_after_a_course_its_prerequisite_needs_is_said_so(uow, tmp_path):
    # Advanced Python, the most popular, needs Intermediate Python, which needs Python Basics: a
    # list of two shows Advanced and Basics, Basics first.
    advanced = course(
        "course_python_advanced",
        "Advanced Python",
        level=Level.ADVANCED,
        prerequisites=("course_python_intermediate",),
    )
    UpsertCourses(uow).execute([*CATALOG, advanced])
    fans = [event(f"f{i}", "course_python_advanced", "enroll", i) for i in range(5)]
    registry = popularity_and_content(uow, tmp_path, [*fans, event("b", "course_python_basic")])
    query = RecommendHomeQuery(UserId("new"), k=2, strategy="popularity", category="Programming")
    served = RecommendHome(uow, registry).execute(query)
    assert [i.course.course_id for i in served.items] == [
        "course_python_basic",
        "course_python_advanced",
    ]
    answer = ExplainRecommendation(uow, registry).execute(
        ExplainQuery(UserId("new"), advanced.course_id, "popularity", k=2, category="Programming")
    )
    entry = answer["strategies"][0]
    assert entry["final_rank"] == 2
    assert (
        "placed after Python Basics: needed before its prerequisites, also in the list"
        in (entry["rules"])
    )
