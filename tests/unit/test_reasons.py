"""Every reason a learner reads states only what the data shows for that learner and course.

Property-based: random catalogs and histories, every strategy fitted, every served item's reason
checked against the learner's events and the catalog.
"""

from __future__ import annotations

import re
import statistics
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.item_cf import ItemCFRecommender
from adapters.popularity import PopularityRecommender
from adapters.sequence import SequenceRecommender
from adapters.tfidf import ContentRecommender
from application.caveats import with_caveats
from application.hybrid import HybridRecommender
from application.ranking import RankingPolicy, rerank
from domain.model import (
    Course,
    CourseId,
    EventType,
    Interaction,
    LearnerHistory,
    Level,
    UserId,
)

WORDS = ["python", "data", "sql", "design", "spanish", "music", "cloud", "security", "art"]
CATEGORIES = ["Programming", "Languages", "Arts", ""]
NOW = datetime(2026, 11, 1, tzinfo=UTC)


@st.composite
def worlds(draw):  # type: ignore[no-untyped-def]
    size = draw(st.integers(4, 12))
    courses = []
    for i in range(size):
        prerequisites = (
            tuple(CourseId(f"c{j}") for j in draw(st.sets(st.integers(0, i - 1), max_size=1)))
            if i > 0
            else ()
        )
        courses.append(
            Course(
                CourseId(f"c{i}"),
                f"Course {i} " + " ".join(draw(st.lists(st.sampled_from(WORDS), max_size=2))),
                " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=4))),
                draw(st.sampled_from(CATEGORIES)),
                draw(st.sampled_from(list(Level))),
                tuple(draw(st.lists(st.sampled_from(WORDS), max_size=2))),
                prerequisites,
            )
        )
    events = [
        Interaction(
            f"e{n}",
            UserId(f"u{draw(st.integers(0, 5))}"),
            CourseId(f"c{draw(st.integers(0, size - 1))}"),
            draw(st.sampled_from(list(EventType))),
            NOW - timedelta(days=draw(st.integers(0, 90)), minutes=n),
        )
        for n in range(draw(st.integers(1, 40)))
    ]
    return courses, sorted(events, key=lambda e: e.occurred_at)


def check(
    reason: str,
    learner: LearnerHistory,
    course: Course,
    catalog: dict,  # type: ignore[type-arg]
    tried: set[CourseId],
    popularity: dict[CourseId, float] | None = None,
    events: list[Interaction] | None = None,
) -> None:
    """`tried`: the courses anybody has an event on; `popularity`: what popularity ranks by;
    `events`: everybody's, to check that a course named was taken with the one served."""
    strongest = learner.strongest()
    by_title = {c.title: c for c in catalog.values()}
    verbs = {e.past_tense: e for e in EventType}
    reason, _, caveat = reason.partition("; ")
    check_caveat(caveat, learner, course, catalog)
    assert reason and ";" not in reason, reason  # one reason, about one course
    if found := re.fullmatch(r"Similar to (.+), which you (.+)", reason):
        own = by_title[found[1]]
        assert strongest[own.course_id] is verbs[found[2]], reason
        shared = set(words(own)) & set(words(course)) - set(words(course, course.category))
        assert shared, reason
        # one word in common is not a subject in common without a category or a tag
        assert (
            len(shared) >= 2
            or own.category == course.category != ""
            or set(own.tags) & set(course.tags)
        ), reason
    elif found := re.fullmatch(r"Also in (.+), like (.+), which you (.+)", reason):
        own = by_title[found[2]]
        assert found[1] == own.category == course.category != "", reason
        assert strongest[own.course_id] is verbs[found[3]], reason
    elif found := re.fullmatch(
        r"Because you (viewed|looked at|enrolled in|completed) (.+)", reason
    ):
        own = by_title[found[2]]
        assert strongest[own.course_id] is verbs[found[1]], reason
        if events is not None:  # some learner took both: enrolled in or completed each
            takers = [
                {e.user_id for e in events if e.course_id == c and e.event_type.strength >= 2}
                for c in (own.course_id, course.course_id)
            ]
            assert takers[0] & takers[1], reason
    elif found := re.fullmatch(r"You (.+) this course before", reason):
        assert strongest[course.course_id] is verbs[found[1]], reason
    elif found := re.fullmatch(r"Popular in (.+?)( lately)?", reason):
        assert found[1] == (course.category or "our catalog"), reason
        assert course.course_id in tried, reason
        if popularity is not None:  # among the more popular half of its category's tried courses
            peers = sorted(  # "our catalog": the whole catalog's
                popularity[c.course_id]
                for c in catalog.values()
                if c.category == course.category or not course.category
                if popularity.get(c.course_id, 0) > 0
            )
            assert popularity[course.course_id] >= statistics.median(peers), reason
    elif found := re.fullmatch(
        r"A course(?: in (.+))?, which learners have tried( lately)?", reason
    ):
        assert (found[1] or "") == course.category and course.course_id in tried, reason
    elif found := re.fullmatch(r"A course(?: in (.+))?, which few learners have tried yet", reason):
        assert (found[1] or "") == course.category and course.course_id not in tried, reason
    elif found := re.fullmatch(r"Next step after (.+)", reason):
        assert by_title[found[1]].course_id in course.prerequisites
        assert strongest[by_title[found[1]].course_id] is EventType.COMPLETE
    elif found := re.fullmatch(r"A course(?: in (.+))?, new to you", reason):
        assert (found[1] or "") == course.category, reason
        assert course.course_id not in strongest, reason
    else:
        raise AssertionError(f"a reason that says nothing checkable: {reason!r}")


def check_caveat(
    caveat: str,
    learner: LearnerHistory,
    course: Course,
    catalog: dict,  # type: ignore[type-arg]
) -> None:
    """What a reason adds after "; ": every course the learner must take before this one (its
    prerequisites not taken, theirs, and so on), each after its own prerequisites, or else a
    jump of two levels above what they took in the course's category."""
    needed = learner.needed_before(course, catalog)
    level = learner.level_in(course.category, catalog)
    category = course.category or "uncategorised"
    if needed:
        assert all(catalog[c].title in caveat for c in needed), (caveat, needed)
        order = sorted(needed, key=lambda c: caveat.index(catalog[c].title))
        titles = [catalog[c].title for c in order]
        said = titles[0] if len(titles) == 1 else ", ".join(titles[:-1]) + " and " + titles[-1]
        assert caveat == f"take {said} first", (caveat, needed)
        for place, c in enumerate(order):  # its own prerequisites said before it
            assert learner.needed_before(catalog[c], catalog) <= set(order[:place]), caveat
    elif course.level is Level.ADVANCED and level in (None, Level.BEGINNER):
        took = f"your {category} courses so far are beginner"
        assert caveat == "advanced, and " + (
            took if level else f"you have taken no {category} course yet"
        ), caveat
    else:
        assert not caveat, caveat


def words(course: Course, text: str | None = None) -> list[str]:
    """The words of a course's text (or of `text`) that TF-IDF reads."""
    return re.findall(r"\b\w\w+\b", (course.text() if text is None else text).lower())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_every_reason_served_is_true_for_that_learner_and_course(world):  # type: ignore[no-untyped-def]
    courses, events = world
    catalog = {c.course_id: c for c in courses}
    tried = {e.course_id for e in events}
    parts = {
        "popularity": PopularityRecommender(30.0),
        "content": ContentRecommender(),
        "item_cf": ItemCFRecommender(regularization=10.0),
        "sequence": SequenceRecommender(),
    }
    for part in parts.values():
        part.fit(courses, events)
    ranked_by = parts["popularity"].popularity  # type: ignore[attr-defined]
    popularity = {
        c.course_id: float(ranked_by[i]) for i, c in enumerate(parts["popularity"].courses)
    }  # type: ignore[attr-defined]
    strategies = {
        **parts,
        "hybrid": HybridRecommender(parts, {"popularity": 0.2, "content": 0.4, "item_cf": 0.4}),
    }
    for user in sorted({e.user_id for e in events}):
        learner = LearnerHistory(user, tuple(e for e in events if e.user_id == user))
        for recommender in strategies.values():
            items = recommender.recommend(learner, 20, learner.taken(), explain=False)
            served = rerank(items, learner, catalog, 5, RankingPolicy(), NOW).items
            unexplained = [item for item in served if not item.reason]
            explained = {r.course_id: r for r in recommender.explain(learner, unexplained)}
            served = [explained.get(item.course_id, item) for item in served]
            for item in with_caveats(served, learner, catalog):
                check(
                    item.reason,
                    learner,
                    catalog[item.course_id],
                    catalog,
                    tried,
                    popularity,
                    events,
                )


def test_content_calls_two_courses_similar_only_for_more_than_one_word_in_common():
    """ "Big" in Big Data and in the Big Bang is no subject in common; "python" in two courses
    tagged python is, and so are two subject words shared across categories."""

    def course(cid: str, title: str, category: str, *tags: str) -> Course:
        return Course(CourseId(cid), title, title, category, Level.BEGINNER, tags)

    catalog = [
        course("bigdata", "Big Data with Spark", "Data", "spark"),
        course("cosmos", "Cosmology and the Big Bang", "Astronomy", "stars"),
        course("pybasic", "Python Programming", "Programming", "python"),
        course("pipes", "Data Pipelines in Python", "Engineering", "python"),
        course("vision", "Image Recognition Neural Networks", "AI", "vision"),
        course("audio", "Speech Recognition Neural Networks", "Audio", "speech"),
        *(course(f"f{i}", f"Filler {word}", f"Cat{i}") for i, word in enumerate("abcdefgh")),
    ]
    content = ContentRecommender()
    content.fit(catalog, [])
    row = {c.course_id: i for i, c in enumerate(content.courses)}

    def said(source: str, other: str) -> str:
        return content.similar_reason(row[source], row[other])

    assert said("bigdata", "cosmos") == "A course in Astronomy"
    assert said("pybasic", "pipes") == "Similar to Python Programming"
    assert said("vision", "audio") == "Similar to Image Recognition Neural Networks"
    learner = LearnerHistory(
        UserId("u"), (Interaction("e", UserId("u"), CourseId("bigdata"), EventType.COMPLETE, NOW),)
    )
    assert content.reasons(learner, [row["cosmos"]]) == ["A course in Astronomy, new to you"]
