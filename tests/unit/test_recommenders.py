"""What each strategy does that the others do not."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import timedelta

import pytest

from adapters.popularity import PopularityRecommender
from adapters.tfidf import ContentRecommender
from domain.model import CourseId, Excluded, LearnerHistory, Level, UserId
from tests.conftest import CATALOG, NOW, course, event


def test_popularity_weighs_enrolments_above_views():
    views = [event(f"v{i}", "course_sql_basic", "view") for i in range(3)]
    enrolls = [event("e1", "course_spanish_basic", "enroll")]
    popular = PopularityRecommender(half_life_days=None)
    popular.fit(CATALOG, views + enrolls)
    top = popular.recommend(LearnerHistory(UserId("x")), 2)
    assert [r.course_id for r in top] == ["course_spanish_basic", "course_sql_basic"]


def test_a_shared_set_of_left_out_courses_is_looked_up_once_and_never_mistaken_for_another():
    """Requests leave out sets they share (a filter's courses); a strategy keeps their rows from
    request to request, by the set itself: another set, even one made since with the same
    memory, leaves out its own courses."""
    catalog = [course(f"c{i}") for i in range(6)]
    popular = PopularityRecommender(half_life_days=None)
    popular.fit(catalog, [event(f"u{i}", f"c{i}", "enroll") for i in range(6)])
    learner = LearnerHistory(UserId("x"))

    def shown(own: set[str], shared: set[str]) -> list[str]:
        left_out = Excluded(frozenset(own), frozenset(shared))
        return [r.course_id for r in popular.recommend(learner, 6, left_out, explain=False)]

    assert shown({"c0"}, {"c1", "c2"}) == ["c3", "c4", "c5"]
    for _ in range(3):  # sets made and dropped in turn may reuse each other's memory
        assert shown({"c5"}, {"c3", "c4"}) == ["c0", "c1", "c2"]
        assert shown(set(), {"c0", "c1", "c2"}) == ["c3", "c4", "c5"]
    first = frozenset({"c0", "c1"})
    kept = Excluded(frozenset({"c2"}), first)
    assert [r.course_id for r in popular.recommend(learner, 6, kept, explain=False)] == [
        "c3",
        "c4",
        "c5",
    ]
    again = Excluded(frozenset(), first)  # the same shared set: its rows as kept
    assert [r.course_id for r in popular.recommend(learner, 6, again, explain=False)] == [
        "c2",
        "c3",
        "c4",
        "c5",
    ]


def test_left_out_courses_are_every_course_of_their_parts_each_once():
    """A request's own courses and the shared sets it names are one set to whoever asks: its
    members, its size and what `|` adds (the shared sets stay shared), without a copy of them."""
    own, inactive, filtered = frozenset({"c0", "c1"}), frozenset({"c1", "c2"}), frozenset({"c2"})
    left_out = Excluded(own, inactive, frozenset(), filtered)
    assert left_out == {"c0", "c1", "c2"} and len(left_out) == 3
    assert sorted(left_out) == ["c0", "c1", "c2"] and "c3" not in left_out
    assert left_out.shared == (inactive, filtered)  # no filter: nothing shared
    more = left_out | {"c3"}
    assert more == {"c0", "c1", "c2", "c3"} and more.shared == left_out.shared
    assert {"c4"} | left_out == {"c0", "c1", "c2", "c4"}
    assert not Excluded(frozenset(), frozenset()) and Excluded(frozenset(), inactive)


def test_a_copied_set_of_left_out_courses_leaves_out_the_same_courses():
    """frozenset's own way of copying rebuilt it as Excluded(list of the courses), which failed
    (AttributeError): copy.copy and copy.deepcopy raised."""
    catalog = [course(f"c{i}") for i in range(6)]
    popular = PopularityRecommender(half_life_days=None)
    popular.fit(catalog, [event(f"u{i}", f"c{i}", "enroll") for i in range(6)])
    left_out = Excluded(frozenset({"c0"}), frozenset({"c1", "c2"}))
    for made in (copy.copy, copy.deepcopy):
        again = made(left_out)
        assert again == left_out and again.shared == left_out.shared
        shown = popular.recommend(LearnerHistory(UserId("x")), 6, again, explain=False)
        assert [r.course_id for r in shown] == ["c3", "c4", "c5"]


def test_courses_that_tie_are_served_in_catalog_order_on_every_machine():
    """Equal scores go to the course listed first, whichever sorting kernel the CPU's numpy
    uses (argpartition alone kept a different tied set on an AVX-512 machine)."""
    catalog = [course(f"c{i:03d}") for i in range(300)]
    events = [event(f"u{i}", f"c{i:03d}", "enroll") for i in range(0, 300, 3)]  # 100 tie at 1
    popular = PopularityRecommender(half_life_days=None)
    popular.fit(catalog, events)
    top = popular.recommend(LearnerHistory(UserId("x")), 10)
    assert [r.course_id for r in top] == [f"c{i:03d}" for i in range(0, 30, 3)]
    unpopular = popular.recommend(LearnerHistory(UserId("x")), 110)[100:]
    assert [r.course_id for r in unpopular] == ["c001", "c002", "c004", "c005", "c007", "c008"] + [
        "c010",
        "c011",
        "c013",
        "c014",
    ]


def test_popularity_forgets_old_events_with_its_half_life():
    old = [event(f"o{i}", "course_sql_basic", "enroll", minutes=0) for i in range(3)]
    recent = [
        event(f"r{i}", "course_spanish_basic", "enroll", minutes=60 * 24 * 60) for i in range(2)
    ]
    decayed = PopularityRecommender(half_life_days=7)
    decayed.fit(CATALOG, old + recent)
    assert decayed.recommend(LearnerHistory(UserId("x")), 1)[0].course_id == "course_spanish_basic"
    counted = PopularityRecommender(half_life_days=None)
    counted.fit(CATALOG, old + recent)
    assert counted.recommend(LearnerHistory(UserId("x")), 1)[0].course_id == "course_sql_basic"


def test_popularity_reason_names_the_category():
    popular = PopularityRecommender(half_life_days=30, clock=lambda: NOW)
    popular.fit(CATALOG, [event("u", "course_sql_basic", "enroll")])
    assert (
        popular.recommend(LearnerHistory(UserId("x")), 1)[0].reason
        == "Popular in Data Science lately"
    )


@pytest.mark.parametrize("half_life_days", [7, 30, 90])
def test_a_course_popular_for_its_older_events_is_not_said_to_be_popular_this_week_or_month(
    half_life_days,
):
    """SQL Basics was enrolled in by 40 learners a half-life and a bit ago and viewed once
    yesterday; Machine Learning Basics was enrolled in by 3 learners this week. The decayed
    ranking puts SQL Basics first, but over the last week or month Machine Learning Basics was
    taken more: "Popular in Data Science this week/month" would be false; "lately" is what a
    ranking that weighs recent events most shows."""
    today = NOW + timedelta(days=2 * half_life_days)

    def days_ago(days: float) -> float:  # event()'s minutes after NOW
        return (2 * half_life_days - days) * 24 * 60

    old = days_ago(1.2 * half_life_days)
    events = [event(f"o{i}", "course_sql_basic", "enroll", old) for i in range(40)]
    events.append(event("v", "course_sql_basic", "view", days_ago(1)))
    events += [event(f"n{i}", "course_ml_basic", "enroll", days_ago(2)) for i in range(3)]
    popular = PopularityRecommender(half_life_days=half_life_days, clock=lambda: today)
    popular.fit(CATALOG, events)
    served = popular.recommend(LearnerHistory(UserId("x")), 6)
    assert served[0].course_id == "course_sql_basic"
    assert served[0].reason == "Popular in Data Science lately"
    for item in served:
        assert "this month" not in item.reason and "this week" not in item.reason


def test_popular_courses_of_an_old_data_set_are_not_said_to_be_popular_lately():
    """Imported history, or a trainer with nothing new to fit: the newest event is more than a
    half-life old, so no time words (a published model says the same)."""
    later = NOW + timedelta(days=31)
    popular = PopularityRecommender(half_life_days=30, clock=lambda: later)
    popular.fit(CATALOG, [event("u", "course_sql_basic", "enroll")])
    assert popular.recommend(LearnerHistory(UserId("x")), 1)[0].reason == "Popular in Data Science"
    restored = PopularityRecommender(clock=lambda: NOW + timedelta(days=29))
    files, manifest = popular.dump()
    restored.restore(files, manifest, {c.course_id: c for c in CATALOG})
    assert restored.recommend(LearnerHistory(UserId("x")), 1)[0].reason == (
        "Popular in Data Science lately"
    )


def test_a_course_with_only_old_events_is_not_said_to_be_popular_lately_beside_a_new_one():
    """Its many enrolments of two years ago still rank it, but "lately" is about the course:
    only one with an event in the last half-life says so. (Nor is it popular any more: decayed,
    those enrolments weigh less than one view today.)"""
    old = [event(f"o{i}", "course_sql_basic", "enroll", minutes=0) for i in range(100)]
    new = [event("n", "course_ml_basic", "view", minutes=60 * 24 * 730)]
    popular = PopularityRecommender(half_life_days=30, clock=lambda: NOW + timedelta(days=731))
    popular.fit(CATALOG, old + new)
    reasons = {r.course_id: r.reason for r in popular.recommend(LearnerHistory(UserId("x")), 6)}
    assert reasons["course_ml_basic"] == "Popular in Data Science lately"
    assert reasons["course_sql_basic"] == "A course in Data Science, which learners have tried"


def test_only_the_more_popular_half_of_a_category_is_called_popular_in_it():
    # Data Science's two courses: a list that ran out of the first goes on with the second
    events = [event(f"u{i}", "course_sql_basic", "enroll") for i in range(9)]
    events += [event(f"v{i}", "course_ml_basic", "enroll") for i in range(5)]
    popular = PopularityRecommender(half_life_days=30, clock=lambda: NOW)
    popular.fit(CATALOG, events)
    reasons = {r.course_id: r.reason for r in popular.recommend(LearnerHistory(UserId("x")), 6)}
    assert reasons["course_sql_basic"] == "Popular in Data Science lately"
    assert reasons["course_ml_basic"] == (
        "A course in Data Science, which learners have tried lately"
    )
    similar = popular.similar(CourseId("course_sql_basic"), 3)
    assert {r.course_id: r.reason for r in similar}["course_ml_basic"] == (
        "Also in Data Science, like SQL Basics"
    )


def popularity_reasons(courses, events):  # type: ignore[no-untyped-def]
    """Each course's reason on a new learner's list of popularity fitted on `events`."""
    popular = PopularityRecommender(half_life_days=None)
    popular.fit(courses, events)
    return {r.course_id: r.reason for r in popular.recommend(LearnerHistory(UserId("x")), 6)}


def test_an_uncategorised_course_is_called_popular_in_our_catalog_only_if_it_is_so():
    # Every Programming course has 10 enrolments; of the two uncategorised courses, the more
    # viewed has 2 views: the most popular course without a category, not of the catalog.
    courses = [course(f"p{i}", f"Programming {i}") for i in range(4)]
    courses += [course("misc_one", "Misc One", ""), course("misc_two", "Misc Two", "")]
    events = [event(f"u{j}", f"p{i}", "enroll", j) for i in range(4) for j in range(10)]
    events += [event("a", "misc_one", "view"), event("a", "misc_two"), event("b", "misc_two")]
    reasons = popularity_reasons(courses, events)
    assert reasons["p0"] == "Popular in Programming"
    assert reasons["misc_two"] == "A course, which learners have tried"
    # as popular as the catalog's courses, it is popular in it
    events += [event(f"w{j}", "misc_two", "enroll", j) for j in range(10)]
    reasons = popularity_reasons(courses, events)
    assert reasons["misc_two"] == "Popular in our catalog"
    assert reasons["misc_one"] == "A course, which learners have tried"


def test_the_only_tried_course_of_its_category_is_called_popular_only_if_it_is_so_in_the_catalog():
    # Stargazing, Astronomy's one course, has one view; every Programming course 10 enrolments.
    # Alone in its category it is its "more popular half": the least tried course of the
    # catalog was told "Popular in Astronomy".
    courses = [course(f"p{i}", f"Programming {i}") for i in range(4)]
    courses += [course("stars", "Stargazing", "Astronomy")]
    events = [event(f"u{j}", f"p{i}", "enroll", j) for i in range(4) for j in range(10)]
    events += [event("a", "stars", "view")]
    reasons = popularity_reasons(courses, events)
    assert reasons["p0"] == "Popular in Programming"
    assert reasons["stars"] == "A course in Astronomy, which learners have tried"
    # as popular as the catalog's courses, it is popular in its category
    events += [event(f"w{j}", "stars", "enroll", j) for j in range(10)]
    reasons = popularity_reasons(courses, events)
    assert reasons["stars"] == "Popular in Astronomy"


def test_a_course_nobody_has_tried_is_not_called_popular():
    popular = PopularityRecommender(half_life_days=30, clock=lambda: NOW)
    popular.fit(CATALOG, [event("u", "course_sql_basic", "enroll")])
    reasons = {r.course_id: r.reason for r in popular.recommend(LearnerHistory(UserId("x")), 6)}
    assert reasons["course_sql_basic"] == "Popular in Data Science lately"
    assert (
        reasons["course_ml_basic"] == "A course in Data Science, which few learners have tried yet"
    )
    similar = {r.course_id: r.reason for r in popular.similar(CourseId("course_sql_basic"), 6)}
    assert similar["course_ml_basic"] == "Also in Data Science, like SQL Basics"
    assert (
        similar["course_spanish_basic"]
        == "A course in Languages, which few learners have tried yet"
    )


def test_content_follows_what_the_learner_did():
    content = ContentRecommender()
    content.fit(CATALOG, [])
    history = LearnerHistory(UserId("u"), (event("u", "course_python_basic", "complete"),))
    top = content.recommend(history, 1, frozenset({CourseId("course_python_basic")}))[0]
    assert top.course_id == "course_python_intermediate"
    assert top.reason == "Similar to Python Basics, which you completed"


def test_content_never_explains_a_course_by_itself():
    content = ContentRecommender()
    content.fit(CATALOG, [])
    history = LearnerHistory(UserId("u"), (event("u", "course_spanish_basic", "view"),))
    items = content.recommend(history, 5)
    assert items[0].course_id == "course_spanish_basic"
    assert items[0].reason == "You viewed this course before"


def test_content_ranks_courses_on_the_learners_subject_first():
    content = ContentRecommender()
    content.fit(CATALOG, [])
    history = LearnerHistory(UserId("u"), (event("u", "course_sql_basic", "enroll"),))
    items = content.recommend(history, 5, frozenset({CourseId("course_sql_basic")}))
    assert items[0].course_id == "course_ml_basic"  # the other Data Science course
    assert "course_spanish_basic" not in {r.course_id for r in items[:2]}
    # they share the words of their category and "basics" only: said as such, not "similar"
    assert items[0].reason == "Also in Data Science, like SQL Basics, which you enrolled in"


def test_a_course_sharing_only_the_word_basics_with_the_learners_course_is_not_called_similar():
    content = ContentRecommender()
    content.fit(CATALOG, [])
    history = LearnerHistory(UserId("u"), (event("u", "course_spanish_basic", "complete"),))
    reasons = {r.course_id: r.reason for r in content.recommend(history, 5, history.taken())}
    assert reasons["course_python_basic"] == "A course in Programming, new to you"
    assert not any("Spanish" in reason for reason in reasons.values()), reasons
    # nor listed as similar to it: a course page showed it beside Spanish Basics
    similar = [r.course_id for r in content.similar(CourseId("course_spanish_basic"), 5)]
    assert "course_python_basic" not in similar


def test_a_course_nothing_points_to_names_its_category_without_guessing_an_article():
    content = ContentRecommender()
    courses = [
        replace(CATALOG[0], course_id=CourseId("e1"), category="Education"),
        replace(CATALOG[0], course_id=CourseId("e2"), category=""),
    ]
    content.fit(courses, [])
    learner = LearnerHistory(UserId("u"))
    assert content.plain_reason(learner, 0) == "A course in Education, new to you"
    assert content.plain_reason(learner, 1) == "A course, new to you"
    popularity = PopularityRecommender(30.0)
    popularity.fit(courses, [])
    reasons = [r.reason for r in popularity.recommend(learner, 2, frozenset())]
    assert sorted(reasons) == [
        "A course in Education, which few learners have tried yet",
        "A course, which few learners have tried yet",
    ]


def test_sharing_only_a_level_word_does_not_make_two_courses_similar():
    courses = [
        replace(
            CATALOG[0],
            course_id=CourseId(f"c{i}"),
            title=title,
            description="",
            category=category,
            level=Level.ADVANCED if "Advanced" in title else Level.BEGINNER,
            tags=(),
            prerequisites=(),
        )
        for i, (title, category) in enumerate(
            [
                ("Advanced Python Programming", "Programming"),
                ("Rust Programming", "Programming"),
                ("Advanced French Grammar", "Languages"),
                ("Spanish Grammar", "Languages"),
                ("Go Programming", "Programming"),
                ("German Grammar", "Languages"),
            ]
        )
    ]
    content = ContentRecommender()
    content.fit(courses, [])
    learner = LearnerHistory(UserId("u"), (event("u", "c0", "complete"),))
    reasons = {r.course_id: r.reason for r in content.recommend(learner, 5, learner.taken())}
    assert reasons["c2"] == "A course in Languages, new to you", reasons
    similar = {r.course_id: r.reason for r in content.similar(CourseId("c0"), 5)}
    assert "c2" not in similar  # a course page listed French Grammar beside Python
    assert similar["c1"] == "Also in Programming, like Advanced Python Programming"


def test_a_course_sharing_one_chance_word_in_another_category_is_not_listed_as_similar():
    """C++ Basics ("systems programming") listed Recommender Systems Basics as similar, explained
    as "A course in Data Science": what the list cannot call similar, it does not show."""
    courses = [
        replace(CATALOG[0], course_id=CourseId(c), title=t, description=d, category=g, tags=())
        for c, t, d, g in [
            ("cpp", "C++ Basics", "Systems programming with pointers", "Programming"),
            ("java", "Java Basics", "Objects and interfaces", "Programming"),
            ("recsys", "Recommender Systems Basics", "Ranking items for users", "Data Science"),
            ("stats", "Statistics Basics", "Means and variances", "Data Science"),
            ("french", "French Basics", "Everyday conversation", "Languages"),
            ("spanish", "Spanish Basics", "Travel phrases", "Languages"),
            ("drawing", "Drawing Basics", "Pencil sketches", "Arts"),
            ("painting", "Painting Basics", "Colour mixing", "Arts"),
        ]
    ]
    content = ContentRecommender()
    content.fit(courses, [])
    similar = {r.course_id: r.reason for r in content.similar(CourseId("cpp"), 3)}
    assert similar == {"java": "Also in Programming, like C++ Basics"}


def test_content_with_an_empty_catalog_recommends_nothing():
    content = ContentRecommender()
    content.fit([], [])
    learner = LearnerHistory(UserId("u"), (event("u", "c0", "complete"),))
    assert content.recommend(learner, 5) == []
    assert ContentRecommender().recommend(learner, 5) == []


def test_a_film_sharing_only_its_release_date_is_not_called_similar():
    """MovieLens as courses: two comedies of 1996 are similar, a war drama of the same day is not."""
    films = [
        course(f"m{i}", title, genre, description=f"{title} released 01-Jan-1996", tags=tags)
        for i, (title, genre, tags) in enumerate(
            [
                ("Down Periscope (1996)", "Comedy", ("comedy", "war")),
                ("Two Much (1996)", "Comedy", ("comedy", "romance")),
                ("Juror, The (1996)", "Drama", ("drama", "thriller")),
                ("Courage Under Fire (1996)", "Drama", ("drama", "war")),
                ("Birdcage, The (1996)", "Comedy", ("comedy",)),
                ("Heat (1995)", "Action", ("action", "crime", "thriller")),
            ]
        )
    ]
    content = ContentRecommender()
    content.fit(films, [])
    juror = LearnerHistory(UserId("u"), (event("u", "m2", "enroll"),))
    reasons = {r.course_id: r.reason for r in content.recommend(juror, 5, juror.taken())}
    assert reasons["m1"] == "A course in Comedy, new to you"  # shares "1996" and "jan" only
    assert reasons["m5"] == "Similar to Juror, The (1996), which you enrolled in"  # a thriller
    assert reasons["m3"] == "Also in Drama, like Juror, The (1996), which you enrolled in"


def test_a_restored_content_model_explains_like_the_fitted_one_and_an_older_one_claims_less():
    content = ContentRecommender()
    content.fit(CATALOG, [])
    files, manifest = content.dump()
    catalog = {c.course_id: c for c in CATALOG}
    history = LearnerHistory(UserId("u"), (event("u", "course_python_basic", "complete"),))
    restored = ContentRecommender()
    restored.restore(files, manifest, catalog)
    assert restored.recommend(history, 5) == content.recommend(history, 5)
    older = ContentRecommender()  # published before subject words were told apart
    older.restore({k: v for k, v in files.items() if k != "subject_terms.npy"}, manifest, catalog)
    reasons = [r.reason for r in older.recommend(history, 5, history.taken())]
    assert reasons[0] == "Also in Programming, like Python Basics, which you completed"
    assert not any(reason.startswith("Similar") for reason in reasons)


def test_content_similar_courses_share_words():
    content = ContentRecommender()
    content.fit(CATALOG, [])
    top = content.similar(CourseId("course_python_basic"), 1)[0]
    assert top.course_id == "course_python_intermediate"
    assert top.reason == "Similar to Python Basics"


def test_content_does_not_call_courses_similar_for_sharing_a_word_about_studying():
    # "Learn Python from scratch" and "models with scikit-learn" share "learn" only: in a
    # catalog of three categories it passed as a subject word and the reason said "Similar to".
    catalog = [
        course("py_basic", "Python Basics", description="Learn Python from scratch"),
        course(
            "ml_basic",
            "Machine Learning Basics",
            "Data Science",
            description="Models with scikit-learn",
        ),
        course("ds_stats", "Statistics Basics", "Data Science", description="Means and variances"),
        course("dz_basic", "Design Basics", "Design", description="Colour and layout"),
        course("dz_type", "Typography", "Design", description="Type and layout"),
    ]
    content = ContentRecommender()
    content.fit(catalog, [])
    history = LearnerHistory(UserId("u"), (event("u", "py_basic", "complete"),))
    items = content.recommend(history, 4, frozenset({CourseId("py_basic")}))
    ml = next(r for r in items if r.course_id == "ml_basic")
    assert ml.reason == "A course in Data Science, new to you"


def test_popular_similar_courses_come_from_the_category_first_scored_0_to_1():
    popularity = PopularityRecommender(None)
    popularity.fit(
        CATALOG,
        [event(f"u{n}", "course_spanish_basic", "enroll", n) for n in range(50)]
        + [event("u1", "course_python_intermediate", "view", 60)],
    )
    found = popularity.similar(
        CourseId("course_python_basic"), 4, frozenset({CourseId("course_old_cobol")})
    )
    assert found[0].course_id == "course_python_intermediate"  # same category, seen once
    assert found[1].course_id == "course_spanish_basic"  # 50 enrolments, another category
    scores = [r.score for r in found]
    assert scores == sorted(scores, reverse=True) and 0 <= scores[-1] and scores[0] <= 1
