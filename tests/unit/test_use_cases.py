"""Use cases on the in-memory adapters."""

from __future__ import annotations

from dataclasses import replace

import pytest

from adapters.fs_artifacts import FilesystemArtifactStore
from adapters.in_memory import InMemoryStore, InMemoryUnitOfWork
from adapters.item_cf import ItemCFRecommender
from adapters.popularity import PopularityRecommender
from adapters.tfidf import ContentRecommender
from application.filters import check_filters
from application.hybrid import InvalidWeights
from application.strategies import Snapshot, StrategyRegistry
from application.use_cases.find_similar import FindSimilar, FindSimilarQuery
from application.use_cases.fit_strategies import FitStrategies
from application.use_cases.log_interactions import LogInteractions
from application.use_cases.recommend_home import RecommendHome, RecommendHomeQuery
from application.use_cases.upsert_courses import UpsertCourses
from domain.errors import (
    InvalidCourses,
    InvalidEvents,
    InvalidStrategy,
    PrerequisiteCycle,
    UnknownCourse,
)
from domain.model import CourseId, LearnerHistory, Level, RecommendationId, UserId
from tests.conftest import CATALOG, course, event


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def uow(store):  # type: ignore[no-untyped-def]
    return lambda: InMemoryUnitOfWork(store)


def serving(uow, factories, models_dir) -> StrategyRegistry:  # type: ignore[no-untyped-def]
    """What a web worker has once the trainer fitted and published `factories`."""
    store = FilesystemArtifactStore(models_dir)
    FitStrategies(uow, factories, store).execute()
    return StrategyRegistry(factories, uow, store, refresh_seconds=0)


def popularity_and_content(uow, models_dir, events):  # type: ignore[no-untyped-def]
    """The catalog and `events` stored, popularity and content published and loaded."""
    UpsertCourses(uow).execute(CATALOG)
    LogInteractions(uow).execute(events)
    return serving(
        uow,
        {"popularity": lambda: PopularityRecommender(None), "content": ContentRecommender},
        models_dir,
    )


@pytest.fixture
def registry(uow, tmp_path):  # type: ignore[no-untyped-def]
    return popularity_and_content(
        uow,
        tmp_path,
        [
            event("u1", "course_python_basic", "enroll", 1),
            event("u2", "course_sql_basic", "enroll", 2),
            event("u3", "course_sql_basic", "complete", 3),
            event("u4", "course_ml_basic", "view", 4),
            event("u5", "course_old_cobol", "enroll", 5),
        ],
    )


def home(uow, registry, **kwargs):  # type: ignore[no-untyped-def]
    return RecommendHome(
        uow, registry, default_strategy=kwargs.pop("default", "popularity")
    ).execute(RecommendHomeQuery(**kwargs))


def test_a_worker_idle_past_its_refresh_interval_answers_its_next_request_from_fresh_data(
    uow, registry
):
    """The check runs in a thread of its own every refresh_seconds, requests or not: the first
    request after a quiet spell must not get the catalog as it was before the spell."""
    import time
    from dataclasses import replace

    registry.refresh_seconds = 0.05
    assert registry.snapshot().courses[CourseId("course_sql_basic")].active
    with uow() as unit:
        unit.courses.upsert(
            [replace(c, active=False) for c in CATALOG if c.course_id == "course_sql_basic"]
        )
        unit.commit()
    deadline = time.monotonic() + 10
    while registry._snapshot.courses[CourseId("course_sql_basic")].active:  # no request meanwhile
        assert time.monotonic() < deadline, "the refresher never checked"
        time.sleep(0.05)
    result = home(uow, registry, user_id=UserId("u9"), k=10, strategy="popularity")
    assert "course_sql_basic" not in [item.recommendation.course_id for item in result.items]


class Unwalked(dict):  # type: ignore[type-arg]
    """A catalog that can be looked up by id but not walked whole."""

    def walked(self, *args: object) -> None:
        raise AssertionError("a request walked the whole catalog")

    __iter__ = keys = values = items = walked  # type: ignore[assignment]


def test_a_snapshot_keeps_its_filters_left_out_courses_up_to_a_bound(registry, monkeypatch):
    """Each filter asked keeps what it leaves out (held as the courses it keeps), for the
    requests after; past a bound on the ids kept, a filter's are worked out per request, and
    answered the same."""
    import application.strategies as strategies

    snapshot = registry.snapshot()
    programming = snapshot.outside("Programming", None)
    monkeypatch.setattr(strategies, "MAX_FILTERED_IDS", len(programming.kept))
    assert programming == {
        c for c, course in snapshot.courses.items() if course.category != "Programming"
    }
    assert snapshot.outside("programming", None) is programming  # kept, by lower-cased category
    beginners = snapshot.outside(None, Level.BEGINNER)  # would pass the bound: not kept
    assert beginners == {
        c for c, course in snapshot.courses.items() if course.level is not Level.BEGINNER
    }
    assert snapshot.outside(None, Level.BEGINNER) is not beginners
    assert list(snapshot.filtered.values()) == [programming]


def test_the_first_requests_after_a_catalog_change_find_its_sets_worked_out(uow, registry):
    """The refresher works out, with each catalog it loads, the courses a newcomer can never
    reach and the courses of each category and level: the first /similar and filtered home
    requests after a change did it (7-15 ms at 10,000 courses), every worker, every change."""
    registry.refresh_seconds = 3600
    registry.snapshot()
    [basics] = [c for c in CATALOG if c.course_id == "course_python_basic"]
    UpsertCourses(uow).execute([replace(basics, active=False)])
    registry._check_in_background()  # what the refresher thread does every refresh_seconds
    loaded = registry._snapshot
    object.__setattr__(loaded, "courses", Unwalked(loaded.courses))
    similar = FindSimilar(registry).execute(FindSimilarQuery(CourseId("course_ml_basic"), 5))
    shown = {i.course.course_id for i in similar.items}
    assert shown and "course_python_intermediate" not in shown
    check_filters(registry.snapshot(), "data science", Level.BEGINNER)  # as the API asks first
    slate = home(
        uow, registry, user_id=UserId("u9"), k=5, category="data science", level=Level.BEGINNER
    )
    assert {i.course.category for i in slate.items} == {"Data Science"}


class LookedUp(dict):  # type: ignore[type-arg]
    """A strategy's rows by course id, noting each id looked up one by one."""

    def __init__(self, rows: dict[CourseId, int]) -> None:
        super().__init__(rows)
        self.looked: list[CourseId] = []

    def __contains__(self, course_id: object) -> bool:
        self.looked.append(course_id)  # type: ignore[arg-type]
        return super().__contains__(course_id)


def test_popular_courses_completing_a_filtered_list_leave_out_the_filtered_rows_as_kept(
    uow, registry
):
    """A strategy that finds fewer than k courses has its list completed with popular ones,
    asked without the courses already listed: that set was a plain one, so popularity looked
    up every course the filter leaves out one by one, on every such request (thousands for a
    narrow filter over a large catalog), instead of the rows it keeps of the filter's set."""
    popular = registry.snapshot().recommenders["popularity"]
    popular.index = LookedUp(popular.index)
    asked = {"user_id": UserId("u4"), "k": 5, "strategy": "content", "category": "data science"}
    first = home(uow, registry, **asked)
    assert first.slate.strategy == "content" and len(first.items) < 5  # completed, as far as can be
    popular.index.looked.clear()
    again = home(uow, registry, **asked)
    assert [i.course.course_id for i in again.items] == [i.course.course_id for i in first.items]
    outside = {c.course_id for c in CATALOG if c.category != "Data Science"}
    assert popular.index.looked and not outside & set(popular.index.looked)


def test_a_filtered_request_looks_up_the_courses_the_filter_keeps_not_those_it_leaves_out(
    uow, registry
):
    """A narrow filter keeps a few courses of a large catalog: the first filtered request after
    each catalog change looked up the rows of every other course one by one (35 ms a strategy
    at 100,000 courses); the rows of the catalog's courses are worked out when it is loaded."""
    registry.snapshot()
    popular = registry.snapshot().recommenders["popularity"]
    popular.index = LookedUp(popular.index)
    result = home(
        uow, registry, user_id=UserId("u1"), k=3, strategy="popularity", category="data science"
    )
    assert {i.course.category for i in result.items} == {"Data Science"}
    kept = {c.course_id for c in CATALOG if c.category == "Data Science"}
    inactive = {c.course_id for c in CATALOG if not c.active}
    assert set(popular.index.looked) <= kept | inactive | {"course_python_basic"}  # u1's own


def test_a_course_added_a_moment_after_a_check_is_known_to_the_next_request(uow, registry):
    """A course the snapshot lacks is looked up: if the database has it, the snapshot is
    refreshed then and there (an id nobody stored costs one read by key, not a reload)."""
    registry.refresh_seconds = 3600
    registry.snapshot()
    new = course("course_rust_basic", "Rust Basics", "Programming")
    UpsertCourses(uow).execute([new])
    found = FindSimilar(registry).execute(FindSimilarQuery(CourseId("course_rust_basic")))
    assert found.course_id == "course_rust_basic"
    with pytest.raises(UnknownCourse):
        FindSimilar(registry).execute(FindSimilarQuery(CourseId("course_nobody_added")))


def test_a_database_outage_is_one_line_in_the_refreshers_log_not_one_per_check(
    uow, registry, caplog
):
    import logging
    import time

    from application.ports import StorageUnavailable

    working = registry.uow_factory

    def down():  # type: ignore[no-untyped-def]
        raise StorageUnavailable("connection refused")

    registry.refresh_seconds = 0.02
    registry.snapshot()
    caplog.set_level(logging.INFO, logger="application.strategies")
    registry.uow_factory = down
    time.sleep(0.5)  # some 25 failed checks
    registry.uow_factory = working
    deadline = time.monotonic() + 10
    while not any("again" in r.getMessage() for r in caplog.records):
        assert time.monotonic() < deadline, "the refresher never said it checks again"
        time.sleep(0.02)
    said = [r.getMessage() for r in caplog.records]
    assert sum("could not check for new versions" in m for m in said) == 1, said
    assert sum("checking for new versions again" in m for m in said) == 1, said


@pytest.mark.parametrize("strategy", ["popularity", "content"])
def test_enrolled_courses_are_never_recommended_again(uow, registry, strategy):
    result = home(uow, registry, user_id=UserId("u2"), k=10, strategy=strategy)
    assert result.items
    assert "course_sql_basic" not in {i.course.course_id for i in result.items}


def test_a_list_the_strategy_cannot_fill_is_completed_with_popular_courses_each_saying_why(
    uow, registry
):
    """Content finds only the courses sharing words with what the learner did; the rest of the
    k places go to popular courses, after content's own, with popularity's reasons."""
    LogInteractions(uow).execute([event("u9", "course_spanish_basic", "view", 9)])
    result = home(uow, registry, user_id=UserId("u9"), k=5, strategy="content")
    items = [i.recommendation for i in result.items]
    assert len(items) == 5 and len({r.course_id for r in items}) == 5
    assert result.slate.strategy == "content" and result.slate.fallback_from is None
    assert items[0].reason.startswith("You viewed") or items[0].reason.startswith("Similar to")
    filled = [r for r in items if r.strategy == "popularity"]
    assert filled and items[-len(filled) :] == filled
    assert all(r.reason.startswith(("Popular in", "A ")) for r in filled)


def startable_behind_popular(uow, models_dir, foundation_active):  # type: ignore[no-untyped-def]
    """35 popular courses that need a foundation course the learner has not taken, and three
    they can start that nobody took yet: the popular ones fill every first candidate pool."""
    foundation = course("foundation", "Foundations", active=foundation_active)
    needing = [
        course(f"needs_{i:02d}", level=Level.INTERMEDIATE, prerequisites=("foundation",))
        for i in range(35)
    ]
    UpsertCourses(uow).execute([foundation, *needing, *(course(f"open_{i}") for i in range(3))])
    LogInteractions(uow).execute(
        [event(f"u{u}", c.course_id, "enroll", u) for u in range(3) for c in needing]
    )
    return serving(uow, {"popularity": lambda: PopularityRecommender(None)}, models_dir)


@pytest.mark.parametrize(
    ("foundation_active", "strict", "expected"),
    [
        (True, True, {"foundation", "open_0", "open_1"}),
        (False, False, {"open_0", "open_1", "open_2"}),
    ],
)
def test_a_list_is_not_left_short_when_the_ranking_stage_removes_every_first_candidate(
    uow, tmp_path, foundation_active, strict, expected
):
    """strict_prerequisites removes a course the learner cannot start yet, and any request one
    whose foundation is inactive: the list goes on with the courses they can start."""
    registry = startable_behind_popular(uow, tmp_path, foundation_active)
    result = home(uow, registry, user_id=UserId("new"), k=3, strict_prerequisites=strict)
    assert {i.course.course_id for i in result.items} == expected


def test_inactive_courses_are_never_recommended(uow, registry):
    result = home(uow, registry, user_id=UserId("new"), k=10)
    assert "course_old_cobol" not in {i.course.course_id for i in result.items}


def test_an_unknown_learner_gets_popular_courses_and_is_told_so(uow, registry):
    result = home(uow, registry, user_id=UserId("stranger"), k=3, strategy="content")
    assert result.slate.strategy == "popularity"
    assert result.slate.fallback_from == "content"
    assert result.items[0].course.course_id == "course_sql_basic"


def test_a_default_strategy_that_does_not_exist_yet_falls_back_to_popularity(uow, registry):
    result = home(uow, registry, user_id=UserId("u1"), k=3, default="hybrid")
    assert (result.slate.strategy, result.slate.fallback_from) == ("popularity", "hybrid")


def test_an_unknown_strategy_lists_the_valid_ones(uow, registry):
    with pytest.raises(InvalidStrategy) as raised:
        home(uow, registry, user_id=UserId("u1"), strategy="magic")
    assert raised.value.valid == ["auto", "content", "popularity"]


def weighted_home(uow, registry, strategy, default):  # type: ignore[no-untyped-def]
    return home(
        uow,
        registry,
        user_id=UserId("u1"),
        strategy=strategy,
        default=default,
        weights={"content": 1.0},
    )


@pytest.mark.parametrize(("strategy", "default"), [("popularity", "hybrid"), (None, "content")])
def test_weights_for_a_strategy_other_than_the_hybrid_are_refused_not_ignored(
    uow, registry, strategy, default
):
    asked = strategy or default
    with pytest.raises(InvalidWeights, match=f"hybrid strategy only.*not to '{asked}'"):
        weighted_home(uow, registry, strategy, default)


@pytest.mark.parametrize(
    ("strategy", "default"), [(None, "hybrid"), ("auto", "popularity"), (None, "auto")]
)
def test_weights_are_taken_when_the_hybrid_is_asked_or_auto_may_pick_it(
    uow, registry, strategy, default
):
    result = weighted_home(uow, registry, strategy, default)
    assert result.items  # answered (no hybrid in this registry: popularity), not refused


def test_an_unknown_strategy_with_weights_is_refused_as_an_unknown_strategy(uow, registry):
    with pytest.raises(InvalidStrategy):
        home(uow, registry, user_id=UserId("u1"), strategy="astrology", weights={"content": 1.0})


def test_every_served_slate_is_recorded_for_attribution(uow, registry, store):
    result = home(uow, registry, user_id=UserId("u1"), k=2, strategy="content")
    recorded = store.slates[result.slate.recommendation_id]
    assert recorded.user_id == "u1" and recorded.strategy == "content"
    assert [r.course_id for r in recorded.items] == [i.course.course_id for i in result.items]


def test_category_and_level_filters_narrow_the_slate(uow, registry):
    result = home(
        uow, registry, user_id=UserId("u9"), k=10, category="programming", level=Level.INTERMEDIATE
    )
    assert [i.course.course_id for i in result.items] == ["course_python_intermediate"]


def test_a_new_course_is_picked_up_after_a_refit_without_a_restart(uow, registry):
    UpsertCourses(uow).execute(
        [
            course(
                "course_python_advanced",
                "Advanced Python",
                tags=("python",),
                description="Python programming at scale",
            )
        ]
    )
    FitStrategies(uow, registry.factories, registry.artifacts).execute()
    similar = FindSimilar(registry).execute(FindSimilarQuery(CourseId("course_python_advanced"), 3))
    assert similar.items[0].course.course_id in {
        "course_python_basic",
        "course_python_intermediate",
    }


def test_similar_to_an_unknown_course_is_an_error(registry):
    with pytest.raises(UnknownCourse):
        FindSimilar(registry).execute(FindSimilarQuery(CourseId("nope")))


def test_a_batch_with_one_bad_event_stores_nothing(uow, store, registry):
    before = len(store.events)
    with pytest.raises(InvalidEvents) as raised:
        LogInteractions(uow).execute(
            [event("u7", "course_sql_basic"), event("u7", "no_such_course")]
        )
    assert raised.value.problems == [
        {"index": 1, "field": "course_id", "message": "unknown course 'no_such_course'"}
    ]
    assert len(store.events) == before


def test_an_event_must_point_at_a_served_recommendation(uow, registry):
    with pytest.raises(InvalidEvents) as raised:
        LogInteractions(uow).execute(
            [event("u7", "course_sql_basic", recommendation_id=RecommendationId("forged"))]
        )
    assert raised.value.problems[0]["field"] == "recommendation_id"


def test_logging_the_same_batch_twice_counts_it_once(uow, registry):
    batch = [event("u8", "course_sql_basic", "click"), event("u8", "course_sql_basic", "enroll", 1)]
    first = LogInteractions(uow).execute(batch)
    second = LogInteractions(uow).execute(batch)
    assert (first.accepted, first.duplicates, second.accepted, second.duplicates) == (2, 0, 0, 2)


def test_prerequisites_must_exist(uow):
    with pytest.raises(InvalidCourses):
        UpsertCourses(uow).execute([course("c1", prerequisites=("missing",))])
    assert UpsertCourses(uow).execute([course("c1", prerequisites=("c0",)), course("c0")]) == 2


def test_a_course_that_requires_itself_is_a_cycle_of_one(uow):
    with pytest.raises(PrerequisiteCycle) as raised:
        UpsertCourses(uow).execute([course("c1", prerequisites=("c1",))])
    assert raised.value.cycle == ["c1", "c1"]


def test_a_prerequisite_cycle_through_the_stored_catalog_is_refused_and_named(uow):
    upsert = UpsertCourses(uow)
    upsert.execute([course("basic")])
    upsert.execute([course("advanced", prerequisites=("basic",))])
    upsert.execute([course("intermediate", prerequisites=("advanced",))])
    with pytest.raises(PrerequisiteCycle) as raised:
        upsert.execute([course("basic", prerequisites=("intermediate",))])
    assert raised.value.cycle == ["basic", "intermediate", "advanced", "basic"]
    with uow() as unit:
        assert unit.courses.get(CourseId("basic")).prerequisites == ()  # type: ignore[union-attr]


def test_checking_a_course_that_leads_into_a_cycle_already_stored_names_it(uow):
    # A cycle stored before cycles were checked (or by two writers at once): checking a file
    # that leads into it must say so, not loop for ever looking for an incoming course on it.
    with uow() as unit:
        unit.courses.upsert([course("b", prerequisites=("c",)), course("c", prerequisites=("b",))])
        unit.commit()
    problems = UpsertCourses(uow).check([course("ok"), course("a", prerequisites=("b",))])
    assert problems == [
        {
            "index": 1,
            "field": "prerequisites",
            "message": "leads into a stored cycle: b -> c -> b (each requires the next)",
        }
    ]


def test_a_diamond_of_prerequisites_is_not_a_cycle(uow):
    courses = [
        course("a", prerequisites=("b", "c")),
        course("b", prerequisites=("d",)),
        course("c", prerequisites=("d",)),
        course("d"),
    ]
    assert UpsertCourses(uow).execute(courses) == 4


def test_a_strategy_that_fails_to_fit_is_unavailable_and_the_others_still_answer(uow, tmp_path):
    class Broken(PopularityRecommender):
        name = "content"

        def fit(self, courses, interactions):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

    UpsertCourses(uow).execute(CATALOG)
    registry = serving(
        uow, {"popularity": lambda: PopularityRecommender(None), "content": Broken}, tmp_path
    )
    result = home(uow, registry, user_id=UserId("u1"), k=3, strategy="content")
    assert (result.slate.strategy, result.slate.fallback_from) == ("popularity", "content")


def test_a_course_newer_than_the_published_model_has_no_similar_courses_yet_not_a_404(
    uow, registry
):
    UpsertCourses(uow).execute([course("course_brand_new", "Brand New", tags=("python",))])
    similar = FindSimilar(registry).execute(FindSimilarQuery(CourseId("course_brand_new"), 3))
    assert similar.items == ()


def test_a_similar_list_item_cf_leaves_short_is_completed_with_courses_alike_in_subject(
    uow, tmp_path
):
    """item_cf links only courses taken together: Python Basics was taken only with SQL Basics,
    so a list of 3 had one course. The places left go to the courses of its category content
    finds closest, ranked after item_cf's own and explained by what they share; not to Machine
    Learning Basics, alike in a word but in another category, nor to a course sharing a word."""
    UpsertCourses(uow).execute(CATALOG)
    LogInteractions(uow).execute(
        [
            event(f"u{u}", c, "enroll", u)
            for u in range(3)
            for c in ("course_python_basic", "course_sql_basic")
        ]
    )
    registry = serving(
        uow,
        {
            "popularity": lambda: PopularityRecommender(None),
            "content": ContentRecommender,
            "item_cf": ItemCFRecommender,
        },
        tmp_path,
    )
    query = FindSimilarQuery(CourseId("course_python_basic"), 3, "item_cf")
    similar = FindSimilar(registry).execute(query)
    assert similar.strategy == "item_cf" and similar.fallback_from is None
    shown = [(i.course.course_id, i.recommendation.rank) for i in similar.items]
    # item_cf's own first; the only other active course of Programming after it
    assert shown == [("course_sql_basic", 1), ("course_python_intermediate", 2)]
    [completed] = [i.recommendation for i in similar.items[1:]]
    assert (completed.strategy, completed.reason) == ("content", "Similar to Python Basics")
    everything = FindSimilar(registry).execute(replace(query, strategy="content", k=5))
    assert "course_ml_basic" in {i.course.course_id for i in everything.items}  # content's own
    alone = FindSimilar(registry).execute(replace(query, k=1))
    assert [i.course.course_id for i in alone.items] == ["course_sql_basic"]  # none needed


def test_similar_courses_leave_out_a_course_deleted_from_the_catalog_since_the_fit(
    uow, registry, store
):
    """A row deleted from the courses table (no endpoint deletes one, an operator can) stays in
    the published model until its next fit: /similar answered 500 naming it."""
    del store.courses[CourseId("course_python_intermediate")]
    store.catalog_changes += 1
    similar = FindSimilar(registry).execute(FindSimilarQuery(CourseId("course_python_basic"), 3))
    shown = [i.course.course_id for i in similar.items]
    assert shown and "course_python_intermediate" not in shown
    assert [i.recommendation.rank for i in similar.items] == list(range(1, len(shown) + 1))


def test_similar_courses_leave_out_a_course_whose_prerequisite_is_no_longer_offered(uow, registry):
    """/similar has no learner, and nobody who has not taken Python Basics can start Intermediate
    Python once Python Basics is retired: the course page listed it anyway. A learner who took
    Python Basics still gets it on their home page."""
    query = FindSimilarQuery(CourseId("course_ml_basic"), 5)

    def shown() -> set[CourseId]:
        return {i.course.course_id for i in FindSimilar(registry).execute(query).items}

    assert "course_python_intermediate" in shown()
    [basics] = [c for c in CATALOG if c.course_id == "course_python_basic"]
    UpsertCourses(uow).execute([replace(basics, active=False)])
    assert "course_python_intermediate" not in shown()
    assert shown()  # the rest of the list stays
    served = home(uow, registry, user_id=UserId("u1"), k=5, strategy="content").items
    assert "course_python_intermediate" in {i.course.course_id for i in served}


def test_a_reason_never_names_a_course_deleted_from_the_catalog_by_its_bare_id(
    uow, tmp_path, store
):
    """A row deleted from the courses table stays in the published models until their next fit;
    a reason naming it could only say "Because you completed course_ml_basic"."""
    UpsertCourses(uow).execute(CATALOG)
    LogInteractions(uow).execute(
        [
            event(f"u{u}", c, "enroll", u)
            for u in range(3)
            for c in ("course_ml_basic", "course_sql_basic")
        ]
        + [event("learner", "course_ml_basic", "complete", 9)]
    )
    registry = serving(
        uow,
        {"popularity": lambda: PopularityRecommender(None), "item_cf": ItemCFRecommender},
        tmp_path,
    )
    named = home(uow, registry, user_id=UserId("learner"), k=2, strategy="item_cf").items[0]
    assert named.recommendation.reason == "Because you completed Machine Learning Basics"
    del store.courses[CourseId("course_ml_basic")]
    store.catalog_changes += 1
    result = home(uow, registry, user_id=UserId("learner"), k=2, strategy="item_cf")
    assert result.items[0].course.course_id == "course_sql_basic"
    assert result.items[0].recommendation.reason == "A course in Data Science, new to you"


def test_a_deleted_models_folder_keeps_the_loaded_copy_answering_and_says_so(uow, registry):
    import shutil

    before = registry.snapshot()
    shutil.rmtree(registry.artifacts.root)
    after = registry.snapshot()
    assert after.loaded["content"].version == before.loaded["content"].version is not None
    assert "no published content version is left" in after.errors["content"]
    result = home(uow, registry, user_id=UserId("u2"), k=3, strategy="content")
    assert result.slate.strategy == "content" and result.items


def test_a_tuning_from_a_newer_version_does_not_stop_this_one_fitting(uow, tmp_path):
    """After a rollback (or beside a newer trainer on another host) the published tuning may hold
    settings this version's recommenders do not take: they are left out, the rest is used."""
    from adapters.item_cf import ItemCFRecommender
    from application.use_cases.fit_strategies import TUNING

    UpsertCourses(uow).execute(CATALOG)
    LogInteractions(uow).execute([event(f"u{n}", "course_sql_basic", "enroll") for n in range(3)])
    store = FilesystemArtifactStore(tmp_path)
    chosen = {"item_cf": {"regularization": 50.0, "setting_of_the_future": 3}}
    store.publish(TUNING, {"trials.json": b"[]"}, {"settings": chosen})
    fit = FitStrategies(uow, {"item_cf": ItemCFRecommender}, store)
    assert fit.wanted() == {"item_cf": {"regularization": 50.0}}
    [fitted] = fit.execute()
    assert fitted.version is not None
    manifest = store.load("item_cf", fitted.version, only=()).manifest
    assert manifest["model"]["regularization"] == 50.0


@pytest.mark.parametrize(
    "settings", [{"item_cf": "lambda 50"}, {"item_cf": None, "content": {}}, ["item_cf"], "x"]
)
def test_a_tuning_manifest_edited_into_another_shape_leaves_the_trainer_fitting(
    uow, tmp_path, settings
):
    """The chosen settings live in the tuning's manifest, which no checksum covers: one edited
    by hand into something else stopped every fit cycle with a traceback, nothing refitted."""
    from adapters.item_cf import ItemCFRecommender
    from application.use_cases.fit_strategies import TUNING

    UpsertCourses(uow).execute(CATALOG)
    LogInteractions(uow).execute([event(f"u{n}", "course_sql_basic", "enroll") for n in range(3)])
    store = FilesystemArtifactStore(tmp_path)
    store.publish(TUNING, {"trials.json": b"[]"}, {"settings": settings})
    fit = FitStrategies(uow, {"item_cf": ItemCFRecommender}, store)
    assert fit.wanted().get("item_cf", {}) == {}
    [fitted] = fit.execute()
    assert fitted.version is not None


def test_trainers_of_two_versions_side_by_side_do_not_refit_each_others_strategies(uow, tmp_path):
    """A newer trainer on another host publishes item_cf with a setting this version does not
    know; on unchanged data this one leaves it be, rather than refit without it (after which the
    newer one would refit with it, and so on, every cycle)."""
    from adapters.item_cf import ItemCFRecommender

    UpsertCourses(uow).execute(CATALOG)
    LogInteractions(uow).execute([event(f"u{n}", "course_sql_basic", "enroll") for n in range(3)])
    store = FilesystemArtifactStore(tmp_path)
    fit = FitStrategies(uow, {"item_cf": ItemCFRecommender}, store)
    [fitted] = fit.execute()
    published = store.load("item_cf", fitted.version)
    newer = {**published.manifest, "settings": {"setting_of_the_future": 3}}
    store.publish("item_cf", published.files, newer, based_on=fitted.version)
    assert fit.plan()[1] == {}
    assert fit.execute() == []
    assert store.load("item_cf", store.current_version("item_cf"), only=()).manifest[
        "settings"
    ] == {"setting_of_the_future": 3}


def test_a_fit_overtaken_by_another_trainer_is_a_warning_and_the_cycle_goes_on(
    uow, tmp_path, caplog
):
    """Another trainer published item_cf while this one fitted it: its version stays, and the
    strategies after item_cf are still fitted and published."""
    from adapters.item_cf import ItemCFRecommender

    UpsertCourses(uow).execute(CATALOG)
    LogInteractions(uow).execute([event(f"u{n}", "course_sql_basic", "enroll") for n in range(3)])
    store = FilesystemArtifactStore(tmp_path)
    theirs = []

    class Overtaken(ItemCFRecommender):
        def fit(self, courses, events):  # type: ignore[no-untyped-def]
            super().fit(courses, events)
            theirs.append(store.publish("item_cf", {}, {}))  # the other trainer finished first

    fit = FitStrategies(uow, {"item_cf": Overtaken, "popularity": PopularityRecommender}, store)
    fitted = {f.strategy: f for f in fit.execute()}
    assert fitted["item_cf"].overtaken and fitted["item_cf"].version is None
    assert store.current_version("item_cf") == theirs[0]
    assert fitted["popularity"].version == store.current_version("popularity") is not None
    [warning] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert warning.getMessage() == (
        f"item_cf: another trainer published version {theirs[0]} meanwhile; nothing was replaced"
    )


def test_courses_a_newcomer_can_never_reach_are_those_behind_an_inactive_or_gone_course():
    """Worked out from the courses that cannot be taken towards those that need them (a walk
    of every course's path took 10 s for a chain of 5,000): the same courses as each learner's
    own check finds, stored cycles included."""
    courses = [
        course("a", prerequisites=("b",)),
        course("b", prerequisites=("c",)),
        course("c", active=False),
        course("d", prerequisites=("e",)),
        course("e"),
        course("x", prerequisites=("y",)),
        course("y", prerequisites=("x", "z")),  # a cycle stored by hand
        course("z", prerequisites=("gone",)),
        course("u", prerequisites=("v",)),
        course("v", prerequisites=("u",)),
        course("off", prerequisites=("c",), active=False),
        *[course(f"chain{i}", prerequisites=(f"chain{i + 1}",)) for i in range(500)],
        course("chain500", prerequisites=("c",)),
    ]
    catalog = {c.course_id: c for c in courses}
    closed = Snapshot("v", catalog).closed_to_newcomers
    newcomer = LearnerHistory(UserId("new"))
    assert closed == {
        c.course_id for c in courses if c.active and newcomer.out_of_reach(c, catalog) is not None
    }
    assert {"a", "b", "x", "y", "z", "chain0", "chain500"} <= closed
    assert not {"c", "d", "e", "u", "v", "off"} & closed


def test_a_list_answered_while_the_database_is_down_leaves_out_what_the_learner_took(
    store, registry
):
    """A degraded list was made without the learner's history, so it offered the courses they
    had enrolled in (the most popular first). A process now answers it with the history it read
    last of that learner, until it learns of an erasure: then it forgets every history it held,
    whether the erasure was made here or on another host."""
    from application.ports import StorageUnavailable
    from application.slate_recorder import SlateRecorder
    from application.use_cases.erase_learner import EraseLearner

    down = False

    def uow():  # type: ignore[no-untyped-def]
        if down:
            raise StorageUnavailable("OperationalError: connection refused")
        return InMemoryUnitOfWork(store)

    recorder = SlateRecorder(uow, mark_seconds=0)  # reads the erasure mark at every request
    use_case = RecommendHome(uow, registry, default_strategy="popularity", recorder=recorder)

    def shown(user: str) -> tuple[bool, list[str]]:
        result = use_case.execute(RecommendHomeQuery(UserId(user), k=3))
        return result.degraded, [i.course.course_id for i in result.items]

    assert shown("u2")[1][0] != "course_sql_basic"  # enrolled: left out, though the most popular
    down = True
    degraded, courses = shown("u2")
    assert degraded and "course_sql_basic" not in courses and len(courses) == 3
    assert shown("u4")[1][0] == "course_sql_basic"  # a learner this process never read: as before
    down = False
    assert shown("u2")[0] is False
    EraseLearner(uow).execute(UserId("u3"))  # on another host: this process reads the new mark
    assert shown("u1")[0] is False
    down = True
    assert shown("u2")[1][0] == "course_sql_basic"  # forgotten with every history held
    down = False
    shown("u2")
    EraseLearner(uow, erased=recorder.forget_mark).execute(UserId("u2"))  # in this process
    down = True
    assert shown("u2")[1][0] == "course_sql_basic"


def test_a_history_read_just_before_its_learner_was_erased_here_is_not_kept(store, registry):
    """The history a request read was kept under what the process knew of erasures when the
    read had ended: a learner erased in this process in between had their history kept as if
    read after the erasure, and a list answered while the database was down then still left
    out (and explained by) what the erased learner had taken."""
    from application.ports import StorageUnavailable
    from application.slate_recorder import SlateRecorder
    from application.use_cases.erase_learner import EraseLearner

    down = False
    erase_after_read: list[str] = []

    class ErasedRightAfterTheRead(InMemoryUnitOfWork):
        def _begin(self) -> None:
            super()._begin()
            read = self.interactions.history

            def history(user_id: UserId) -> LearnerHistory:
                found = read(user_id)
                if user_id in erase_after_read:  # another request's erasure commits meanwhile
                    erase_after_read.remove(user_id)
                    EraseLearner(uow, erased=recorder.forget_mark).execute(user_id)
                return found

            self.interactions.history = history  # type: ignore[method-assign]

    def uow():  # type: ignore[no-untyped-def]
        if down:
            raise StorageUnavailable("OperationalError: connection refused")
        return ErasedRightAfterTheRead(store)

    recorder = SlateRecorder(uow)
    use_case = RecommendHome(uow, registry, default_strategy="popularity", recorder=recorder)

    def shown(user: str) -> list[str]:
        result = use_case.execute(RecommendHomeQuery(UserId(user), k=3))
        return [i.course.course_id for i in result.items]

    assert shown("u2")[0] != "course_sql_basic"  # enrolled: left out, though the most popular
    erase_after_read.append("u2")
    shown("u2")
    down = True
    assert shown("u2")[0] == "course_sql_basic"  # erased: nothing of their history is used


def test_a_worker_holds_no_database_connection_while_it_loads_model_files(sqlite_url, tmp_path):
    """Loading a publish takes seconds at scale; the refresh held its unit of work's connection
    (and, on PostgreSQL, a transaction left idle) all that time, one of the pool's connections
    the requests wait for, and a server's idle_in_transaction_session_timeout would cut it."""
    from adapters.sqlalchemy.engine import build_engine
    from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork

    engine = build_engine(sqlite_url)
    uow = lambda: SqlAlchemyUnitOfWork(engine)  # noqa: E731
    UpsertCourses(uow).execute(CATALOG)
    LogInteractions(uow).execute([event("u1", "course_sql_basic", "enroll")])
    factories = {"popularity": PopularityRecommender, "item_cf": ItemCFRecommender}
    FitStrategies(uow, factories, FilesystemArtifactStore(tmp_path / "models")).execute()
    held: list[int] = []

    class Watched(FilesystemArtifactStore):
        def load(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            held.append(engine.pool.checkedout())
            return super().load(*args, **kwargs)

    registry = StrategyRegistry(factories, uow, Watched(tmp_path / "models"), refresh_seconds=0)
    assert registry.snapshot().recommenders["item_cf"].ready
    assert held and set(held) == {0}
    engine.dispose()


def test_model_versions_lists_a_version_whose_epoch_count_was_edited_past_any_number(tmp_path):
    """The manifest is no checksummed file: a count a person rewrote as 1e400 (JSON's infinity to
    Python) stopped `recsys model-versions` with a traceback (OverflowError), listing nothing;
    the figure is left out, the rest shown, as for one rewritten as text."""
    import json

    from application.use_cases.list_model_versions import ListModelVersions

    store = FilesystemArtifactStore(tmp_path)
    version = store.publish("two_tower", {"a.json": b"{}"}, {"metrics": {"recall_at_10": 0.5}})
    manifest = tmp_path / "two_tower" / "versions" / version / "manifest.json"
    written = manifest.read_text().replace(
        '"recall_at_10": 0.5', '"recall_at_10": 0.5, "epochs_run": 1e400'
    )
    manifest.write_text(written)
    assert json.loads(written)["metrics"]["epochs_run"] == float("inf")

    (listed,) = ListModelVersions(store, ["two_tower"]).execute()

    assert [(v.version, v.metrics) for v in listed.versions] == [(version, {"recall_at_10": 0.5})]
