"""The ranking stage's rules, on a learner's path through one category."""

from __future__ import annotations

from datetime import timedelta

from application.caveats import with_caveats
from application.ranking import RankingPolicy, prerequisites_first, rerank
from domain.model import CourseId, LearnerHistory, Level, Recommendation, UserId
from tests.conftest import NOW, course, event

DESIGN = [
    course("ui_advanced", "UI Design Advanced", "Design", Level.ADVANCED),
    course("photo_basic", "Photography Basics", "Design"),
    course(
        "photo_more",
        "Intermediate Photography",
        "Design",
        Level.INTERMEDIATE,
        prerequisites=("photo_basic",),
    ),
    course("type_more", "Intermediate Typography", "Design", Level.INTERMEDIATE),
    course("spanish_basic", "Spanish Basics", "Languages"),
]
CATALOG = {c.course_id: c for c in DESIGN}


def test_the_next_step_after_a_course_just_completed_is_not_demoted_for_the_categorys_level():
    # An advanced UI designer who has just completed Photography Basics: the next photography
    # course suits them, though it is "below" their level in Design; another intermediate
    # course of the category, which nothing leads them to, is demoted.
    learner = LearnerHistory(
        UserId("ana"),
        (event("ana", "ui_advanced", "complete"), event("ana", "photo_basic", "complete", 60)),
    )
    candidates = [
        Recommendation(CourseId("type_more"), 0.9, 0, "content"),
        Recommendation(CourseId("photo_more"), 0.5, 0, "content"),
        Recommendation(CourseId("spanish_basic"), 0.1, 0, "content"),
    ]
    ranked = rerank(candidates, learner, CATALOG, 2, RankingPolicy(), NOW + timedelta(days=1))
    assert [r.course_id for r in ranked.items] == ["photo_more", "type_more"]
    assert [r.score for r in ranked.items] == [0.5 + 0.5, 1.0 * 0.7]  # boosted; demoted
    assert ranked.items[0].reason == "Next step after Photography Basics"
    assert ranked.rules["photo_more"] == [
        "boosted: next step after Photography Basics, completed recently"
    ]
    assert ranked.rules["type_more"] == [
        "demoted: intermediate while the learner is at advanced in Design"
    ]


def test_a_next_step_is_never_named_after_a_prerequisite_deleted_from_the_catalog():
    # Photography Basics, completed just now, was deleted from the courses table: "Next step
    # after photo_basic" would name it by its bare id.
    learner = LearnerHistory(UserId("ana"), (event("ana", "photo_basic", "complete"),))
    catalog = {c: found for c, found in CATALOG.items() if c != "photo_basic"}
    candidate = Recommendation(CourseId("photo_more"), 0.5, 0, "content", "Popular in Design")
    ranked = rerank([candidate], learner, catalog, 1, RankingPolicy(), NOW + timedelta(days=1))
    assert ranked.items[0].reason == "Popular in Design"
    assert "photo_basic" not in " ".join(ranked.rules.get("photo_more", []))


def test_a_course_still_missing_a_prerequisite_is_not_the_next_step_after_the_one_completed():
    # Photo editing needs Photography Basics, completed just now, and Intermediate Typography,
    # never taken: it is demoted for what is missing and is not called the learner's next step.
    editing = course(
        "photo_edit",
        "Photo Editing",
        "Design",
        Level.INTERMEDIATE,
        prerequisites=("photo_basic", "type_more"),
    )
    catalog = {**CATALOG, editing.course_id: editing}
    learner = LearnerHistory(UserId("bo"), (event("bo", "photo_basic", "complete"),))
    candidates = [
        Recommendation(CourseId("photo_edit"), 0.9, 0, "content", "Similar to Photography Basics"),
        Recommendation(CourseId("spanish_basic"), 0.1, 0, "content"),
    ]
    ranked = rerank(candidates, learner, catalog, 2, RankingPolicy(), NOW + timedelta(days=1))
    edit = next(r for r in ranked.items if r.course_id == "photo_edit")
    assert edit.reason == "Similar to Photography Basics"
    assert edit.score == 1.0 * 0.5  # demoted for the missing prerequisite, nothing added
    assert ranked.rules["photo_edit"] == [
        "demoted: prerequisites not taken (Intermediate Typography)"
    ]


def test_a_course_passed_over_for_variety_again_and_again_is_noted_once():
    """Design B is second best but Design is in the list already: courses of four other
    subjects go before it, one pick after another, and its rules say so once."""
    catalog = {
        c.course_id: c
        for c in [
            course("design_a", "Design A", "Design"),
            course("design_b", "Design B", "Design"),
            *(course(f"{s}_a", s.title(), s.title()) for s in ("math", "art", "music", "law")),
            course("zzz", "Last", "Other"),
        ]
    }
    scores = {"design_a": 1.0, "design_b": 0.9, "math_a": 0.8, "art_a": 0.75}
    scores |= {"music_a": 0.7, "law_a": 0.6, "zzz": 0.0}
    candidates = [Recommendation(CourseId(c), s, 0, "content") for c, s in scores.items()]
    learner = LearnerHistory(UserId("cy"), ())
    ranked = rerank(candidates, learner, catalog, 7, RankingPolicy(), NOW)
    assert [r.course_id for r in ranked.items][:6] == [
        "design_a",
        "math_a",
        "art_a",
        "music_a",
        "law_a",
        "design_b",
    ]
    assert ranked.rules["design_b"] == ["moved down for variety: Design is already in the list"]


#: a course after Intermediate Photography, itself after Photography Basics
ADVANCED_PHOTO = course(
    "photo_advanced",
    "Advanced Photography",
    "Design",
    Level.ADVANCED,
    prerequisites=("photo_more",),
)


def test_a_course_comes_after_its_prerequisite_when_the_list_shows_both():
    # Scores had Intermediate Photography first (halved for its missing prerequisite, still
    # ahead): it moves to just after Photography Basics; the rest keep their order.
    catalog = {**CATALOG, ADVANCED_PHOTO.course_id: ADVANCED_PHOTO}
    ranked = [
        Recommendation(CourseId(c), 1.0, rank, "popularity")
        for rank, c in enumerate(
            ["photo_advanced", "photo_more", "spanish_basic", "photo_basic", "type_more"], start=1
        )
    ]
    ordered = prerequisites_first(ranked, catalog, LearnerHistory(UserId("bo")))
    assert [r.course_id for r in ordered] == [
        "spanish_basic",
        "photo_basic",
        "photo_more",
        "photo_advanced",
        "type_more",
    ]
    assert [r.rank for r in ordered] == [1, 2, 3, 4, 5]


def test_a_course_comes_after_a_course_its_prerequisite_needs_when_the_list_shows_it():
    # Advanced Photography needs Intermediate Photography, which needs Photography Basics: a list
    # showing Advanced above Basics (and not Intermediate) shows the path backwards. A learner
    # who took Intermediate needs Basics for nothing on that path: the order stays.
    catalog = {**CATALOG, ADVANCED_PHOTO.course_id: ADVANCED_PHOTO}
    ranked = [
        Recommendation(CourseId(c), 1.0, rank, "popularity")
        for rank, c in enumerate(["photo_advanced", "spanish_basic", "photo_basic"], start=1)
    ]
    new = LearnerHistory(UserId("bo"))
    ordered = prerequisites_first(ranked, catalog, new)
    assert [r.course_id for r in ordered] == ["spanish_basic", "photo_basic", "photo_advanced"]
    took = LearnerHistory(UserId("cy"), (event("cy", "photo_more", "enroll"),))
    ordered = prerequisites_first(ranked, catalog, took)
    assert [r.course_id for r in ordered] == ["photo_advanced", "spanish_basic", "photo_basic"]


def test_without_the_learners_history_a_reason_says_only_what_the_course_requires():
    # The database unreachable: whether the learner took Photography Basics is not known.
    nobody = LearnerHistory(UserId("ana"))
    items = [Recommendation(CourseId("photo_more"), 1.0, 1, "popularity", "Popular in Design")]
    known, unknown = (with_caveats(items, nobody, CATALOG, known) for known in (True, False))
    assert known[0].reason == "Popular in Design; take Photography Basics first"
    assert unknown[0].reason == "Popular in Design; requires Photography Basics"


def test_a_reason_names_every_course_to_take_first_in_the_order_to_take_them():
    # Advanced Photography needs More Photography, which needs Photography Basics: "take More
    # Photography first" sent a learner who had taken neither to a course they could not start.
    catalog = {**CATALOG, ADVANCED_PHOTO.course_id: ADVANCED_PHOTO}
    more = catalog[CourseId("photo_more")].title
    items = [Recommendation(CourseId("photo_advanced"), 1.0, 1, "popularity", "Popular in Design")]
    nobody = LearnerHistory(UserId("ana"))
    known, unknown = (with_caveats(items, nobody, catalog, known) for known in (True, False))
    assert known[0].reason == f"Popular in Design; take Photography Basics and {more} first"
    assert unknown[0].reason == f"Popular in Design; requires {more}"
    took = LearnerHistory(UserId("bo"), (event("bo", "photo_basic", "complete"),))
    assert with_caveats(items, took, catalog)[0].reason == f"Popular in Design; take {more} first"


def test_a_course_the_learner_cannot_reach_for_an_inactive_prerequisite_is_not_offered():
    # Photography Basics is no longer offered: a learner who never took it cannot take
    # Intermediate Photography, nor Advanced Photography after it; one who took it can go on.
    basic = course("photo_basic", "Photography Basics", "Design", active=False)
    retired = {**CATALOG, basic.course_id: basic}
    catalog = {**retired, ADVANCED_PHOTO.course_id: ADVANCED_PHOTO}
    candidates = [
        Recommendation(CourseId(c), 1.0, 0, "popularity")
        for c in ("photo_more", "photo_advanced", "spanish_basic")
    ]
    new = LearnerHistory(UserId("bo"))
    ranked = rerank(candidates, new, catalog, 3, RankingPolicy(), NOW)
    assert [r.course_id for r in ranked.items] == ["spanish_basic"]
    for removed in ("photo_more", "photo_advanced"):
        assert ranked.rules[removed] == [
            "removed: needs Photography Basics, which is inactive and the learner has not taken"
        ]
    took = LearnerHistory(UserId("cy"), (event("cy", "photo_basic", "complete"),))
    ranked = rerank(candidates, took, catalog, 3, RankingPolicy(), NOW + timedelta(days=1))
    assert {r.course_id for r in ranked.items} == {"photo_more", "photo_advanced", "spanish_basic"}
