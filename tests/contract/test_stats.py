"""Analytics aggregates: hand-computed numbers, the same on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from application.use_cases.compute_stats import ComputeStats
from domain.model import CourseId, Recommendation, RecommendationId, Slate, UserId
from tests.conftest import CATALOG, NOW, event


def slate(rid: str, user: str, strategy: str, courses: list[str], days: float = 0) -> Slate:
    items = tuple(
        Recommendation(CourseId(c), 1.0, i, strategy) for i, c in enumerate(courses, start=1)
    )
    return Slate(RecommendationId(rid), UserId(user), strategy, items, NOW + timedelta(days=days))


@pytest.fixture
def stats(uow_factory):  # type: ignore[no-untyped-def]
    """Day 0: u1 gets 2 content slates (3 + 2 items) and 1 popularity slate (2 items), clicks twice
    on content and once on popularity, enrolls once via content; u2 gets 1 popularity slate
    (3 items) and enrolls in SQL Basics without a slate. Day 1: u2 gets 1 content slate (1 item)."""
    with uow_factory() as uow:
        uow.courses.upsert(CATALOG)
        for s in (
            slate(
                "c1",
                "u1",
                "content",
                ["course_sql_basic", "course_ml_basic", "course_spanish_basic"],
            ),
            slate("c2", "u1", "content", ["course_ml_basic", "course_python_intermediate"]),
            slate("p1", "u1", "popularity", ["course_sql_basic", "course_spanish_basic"]),
            slate(
                "p2",
                "u2",
                "popularity",
                ["course_sql_basic", "course_ml_basic", "course_spanish_basic"],
            ),
            slate("c3", "u2", "content", ["course_ml_basic"], days=1),
        ):
            uow.slates.add(s)
        uow.interactions.add_batch(
            [
                event("u1", "course_sql_basic", "click", 10, recommendation_id="c1"),
                event("u1", "course_ml_basic", "click", 11, recommendation_id="c2"),
                event("u1", "course_ml_basic", "enroll", 12, recommendation_id="c2"),
                event("u1", "course_spanish_basic", "click", 13, recommendation_id="p1"),
                event("u1", "course_python_basic", "view", 14),
                event("u2", "course_sql_basic", "enroll", 15),
            ]
        )
        uow.commit()
    return ComputeStats(uow_factory, clock=lambda: NOW + timedelta(days=2))


def test_user_stats_by_hand(stats):
    u1 = stats.user(UserId("u1"))
    assert (u1.num_recommendations, u1.num_impressions, u1.num_clicks, u1.num_enrolls) == (
        3,
        7,
        3,
        1,
    )
    assert u1.ctr == pytest.approx(3 / 7)
    assert u1.top_categories == [("Data Science", 3), ("Languages", 1), ("Programming", 1)]


def test_an_unknown_learner_gets_zeros(stats):
    nobody = stats.user(UserId("nobody"))
    assert (nobody.num_recommendations, nobody.num_impressions, nobody.num_clicks, nobody.ctr) == (
        0,
        0,
        0,
        0.0,
    )
    assert nobody.top_categories == []


def test_global_stats_by_hand(stats):
    result = stats.global_stats(days=30)
    assert result.ctr == pytest.approx(round(3 / 11, 6))
    assert result.strategy_distribution == pytest.approx({"content": 3 / 5, "popularity": 2 / 5})
    assert result.strategy_ctr == pytest.approx(
        {"content": round(2 / 6, 6), "popularity": round(1 / 5, 6)}
    )
    day0, day1 = result.daily
    assert (day0.date, day0.recommendations, day0.impressions, day0.clicks, day0.enrolls) == (
        "2026-11-01",
        4,
        10,
        3,
        1,
    )
    assert (day1.date, day1.recommendations, day1.impressions, day1.clicks) == (
        "2026-11-02",
        1,
        1,
        0,
    )
    top = result.most_popular_courses
    assert [(c.course_id, c.enrolls, c.clicks) for c in top[:2]] == [
        ("course_ml_basic", 1, 1),
        ("course_sql_basic", 1, 1),
    ]
    assert top[0].title == "Machine Learning Basics"


def test_the_window_leaves_older_days_out(stats):
    result = stats.global_stats(days=2)
    assert [d.date for d in result.daily] == ["2026-11-02"]
    assert result.most_popular_courses == []
