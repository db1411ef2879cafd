"""The sequence strategy recommends what learners took next, in the direction they went."""

from __future__ import annotations

from adapters.sequence import SequenceRecommender
from domain.model import CourseId, LearnerHistory
from tests.conftest import course, event

CATALOG = [course(c) for c in ("intro", "basics", "advanced", "expert", "orphan")]
PATH = ("intro", "basics", "advanced", "expert")


def walked(learners: int = 20) -> list:
    """Every learner takes three courses of one path in order, starting at its first or second."""
    events = []
    for n in range(learners):
        start = n % 2
        for step, course_id in enumerate(PATH[start : start + 3]):
            events.append(event(f"u{n}", course_id, "enroll", n + step * 1_000))
    return events


def learner(*course_ids: str) -> LearnerHistory:
    return LearnerHistory(
        "new", tuple(event("new", c, "enroll", i) for i, c in enumerate(course_ids))
    )


def top(recommender, history: LearnerHistory) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.course_id for r in recommender.recommend(history, 3, history.seen(), explain=False)]


def test_it_recommends_the_course_that_comes_next_not_the_one_before():
    recommender = SequenceRecommender()
    recommender.fit(CATALOG, walked())
    assert top(recommender, learner("basics")) == ["advanced", "expert"]  # never "intro"


def test_the_latest_course_counts_most():
    recommender = SequenceRecommender(recency_decay=0.3)
    recommender.fit(CATALOG, walked())
    assert top(recommender, learner("intro", "advanced"))[0] == "expert"


def test_a_course_nothing_led_to_is_not_recommended():
    recommender = SequenceRecommender()
    recommender.fit(CATALOG, walked())
    assert CourseId("orphan") not in top(recommender, learner("intro"))
    assert top(recommender, learner("expert")) == []  # nothing was ever taken after it


def test_a_published_model_ranks_as_the_fitted_one():
    fitted = SequenceRecommender(recency_decay=0.3)
    fitted.fit(CATALOG, walked())
    files, manifest = fitted.dump()
    served = SequenceRecommender()
    served.restore(files, manifest, {c.course_id: c for c in CATALOG})
    history = learner("intro", "basics")
    assert top(served, history) == top(fitted, history)
    assert served.recency_decay == 0.3


def test_the_trainer_publishes_a_model_that_serves_with_the_recency_it_was_fitted_with(tmp_path):
    """With no setting chosen yet (before the first search, or with the search off) the trainer
    fits sequence with its own default recency weighting; workers must serve with the same."""
    from adapters.fs_artifacts import FilesystemArtifactStore
    from adapters.in_memory import InMemoryStore, InMemoryUnitOfWork
    from application.use_cases.fit_strategies import FitStrategies
    from application.use_cases.log_interactions import LogInteractions
    from application.use_cases.upsert_courses import UpsertCourses

    memory = InMemoryStore()
    uow = lambda: InMemoryUnitOfWork(memory)  # noqa: E731
    UpsertCourses(uow).execute(CATALOG)
    LogInteractions(uow).execute(walked())
    store = FilesystemArtifactStore(tmp_path)
    FitStrategies(uow, {"sequence": SequenceRecommender}, store).execute()
    served = SequenceRecommender(recency_decay=1.0)  # whatever a worker builds it with
    artifact = store.load("sequence", store.current_version("sequence"))
    served.restore(artifact.files, artifact.manifest, {c.course_id: c for c in CATALOG})
    fitted = SequenceRecommender()
    fitted.fit(CATALOG, walked())
    assert served.recency_decay == fitted.recency_decay == 0.5
    history = learner("intro", "advanced")
    assert top(served, history) == top(fitted, history)


def _transitions_per_learner(index, interactions):  # type: ignore[no-untyped-def]
    """transitions() as it was counted before 2026-12-01 (the benchmark keeps it to compare)."""
    from benchmarks.trainer_memory import previous_transitions

    return previous_transitions(index, interactions)


def test_sequence_counts_what_followed_what_without_a_python_object_per_transition():
    """The same shares, to the bit, as counting each learner's transitions one by one (courses
    touched again move to their latest place, events at one moment keep their order, courses
    outside the catalog are skipped), holding a few bytes per transition rather than a Python
    number each: at 2.5 million events that count took 585 MB more than the events."""
    import random
    import tracemalloc

    import numpy as np

    from adapters.sequence import transitions
    from domain.model import CourseId

    rng = random.Random(4)
    index = {CourseId(f"c{n}"): n for n in range(300)}
    events = [
        event(f"u{rng.randrange(150)}", f"c{rng.randrange(320)}", "view", rng.randrange(5_000))
        for _ in range(20_000)
    ]
    tracemalloc.start()
    shares = transitions(index, events)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    expected = _transitions_per_learner(index, events)
    assert np.array_equal(shares.indptr, expected.indptr)
    assert np.array_equal(shares.indices, expected.indices)
    assert np.array_equal(shares.data, expected.data)
    taken: dict[str, set[str]] = {}
    for e in events:
        if e.course_id in index:
            taken.setdefault(e.user_id, set()).add(e.course_id)
    counted = sum(min(10, n) for courses in taken.values() for n in range(len(courses)))
    assert peak < 50 * counted  # 85 bytes each before
