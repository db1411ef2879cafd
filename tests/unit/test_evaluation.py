"""Split protocols and the evaluation use case on small, hand-checkable data."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from adapters.item_cf import ItemCFRecommender
from adapters.popularity import PopularityRecommender
from adapters.tfidf import ContentRecommender
from application.evaluation.dataset import Dataset
from application.evaluation.splits import leave_last_out, random_split, temporal_split
from application.hybrid import HybridRecommender
from application.use_cases.evaluate_strategies import (
    EvaluateStrategies,
    EvaluationQuery,
    NothingToEvaluate,
)
from domain.errors import InvalidStrategy
from tests.conftest import CATALOG, course, event


def many_events():  # type: ignore[no-untyped-def]
    return [event(f"u{u}", f"c{i}", minutes=u * 100 + i) for u in range(10) for i in range(u + 2)]


def test_random_split_keeps_each_learners_ratio_and_is_seeded():
    events = many_events()
    split = random_split(events, 0.75, seed=42)
    train = Counter(e.user_id for e in split.train)
    total = Counter(e.user_id for e in events)
    assert all(train[u] == max(1, round(total[u] * 0.75)) for u in total)
    assert len(split.train) + len(split.test) == len(events)
    again = random_split(events, 0.75, seed=42)
    other = random_split(events, 0.75, seed=43)
    assert [e.event_id for e in again.test] == [e.event_id for e in split.test]
    assert [e.event_id for e in other.test] != [e.event_id for e in split.test]


def test_random_split_keeps_every_event_of_a_course_on_one_side():
    # each learner viewed, then enrolled in, each of eight courses: cut by event, most test
    # courses were in training too, and those learners had nothing left to find
    events = [
        event(f"u{u}", f"c{i}", kind, minutes=u * 100 + 2 * i + step)
        for u in range(50)
        for i in range(8)
        for step, kind in enumerate(("view", "enroll"))
    ]
    split = random_split(events, 0.75, seed=42)
    train = {(e.user_id, e.course_id) for e in split.train}
    test = {(e.user_id, e.course_id) for e in split.test}
    assert not train & test
    assert Counter(user for user, _ in test) == {f"u{u}": 2 for u in range(50)}
    assert len(split.train) + len(split.test) == len(events)


def test_leave_last_out_tests_on_each_learners_latest_event():
    split = leave_last_out(many_events())
    latest = {e.user_id: e.course_id for e in split.test}
    assert latest["u3"] == "c4" and len(split.test) == 10


def test_leave_last_out_holds_out_each_learners_latest_course_with_all_its_events():
    # viewed a, viewed b, then enrolled in a: the latest event is of a course seen before
    events = [
        event(f"u{u}", course_id, kind, minutes=u * 100 + step)
        for u in range(5)
        for step, (course_id, kind) in enumerate((("a", "view"), ("b", "view"), ("a", "enroll")))
    ]
    events += [event("solo", "a", "view"), event("solo", "a", "enroll", minutes=1)]
    split = leave_last_out(events)
    assert {(e.user_id, e.course_id) for e in split.test} == {(f"u{u}", "b") for u in range(5)}
    assert {(e.user_id, e.course_id) for e in split.train} == {
        *((f"u{u}", "a") for u in range(5)),
        ("solo", "a"),
    }
    assert len(split.train) + len(split.test) == len(events)


def test_temporal_split_tests_on_each_learners_latest_share():
    events = many_events()
    random.Random(3).shuffle(events)
    split = temporal_split(events, 0.75)
    for user in {e.user_id for e in events}:
        train = [e for e in split.train if e.user_id == user]
        test = [e for e in split.test if e.user_id == user]
        assert len(train) == max(1, round((len(train) + len(test)) * 0.75))
        assert max(e.occurred_at for e in train) <= min(
            (e.occurred_at for e in test), default=max(e.occurred_at for e in train)
        )
    assert split.test and len(split.train) + len(split.test) == len(events)


def test_temporal_split_keeps_every_event_of_a_course_on_one_side_and_learners_to_evaluate():
    # each learner viewed eight courses, then enrolled in them in the same order: cut by event,
    # the test part held only enrolments in courses viewed in training, nothing to find
    events = [
        event(f"u{u}", f"c{i}", kind, minutes=u * 100 + step * 10 + i)
        for u in range(20)
        for step, kind in enumerate(("view", "enroll"))
        for i in range(8)
    ]
    split = temporal_split(events, 0.75)
    train = {(e.user_id, e.course_id) for e in split.train}
    test = {(e.user_id, e.course_id) for e in split.test}
    assert not train & test
    # the courses first touched latest, each with both its events
    assert Counter(e.user_id for e in split.test) == {f"u{u}": 4 for u in range(20)}
    assert test == {(f"u{u}", f"c{i}") for u in range(20) for i in (6, 7)}
    catalog = [course(f"c{i}") for i in range(8)]
    use_case = EvaluateStrategies({"popularity": lambda: PopularityRecommender(None)})
    report = use_case.execute(
        EvaluationQuery(Dataset("lms", catalog, events), ["popularity"], "temporal")
    )
    assert report.results[0].metrics.users_evaluated == 20


def test_popularity_evaluation_by_hand():
    catalog = [course(c) for c in ("a", "b", "c", "d")]
    train = [
        event("u1", "a"),
        event("u2", "a"),
        event("u3", "a"),
        event("u2", "b"),
        event("u3", "b"),
        event("u1", "c"),
    ]
    test = [event("u1", "b", minutes=9), event("u2", "d", minutes=9), event("u3", "c", minutes=9)]
    dataset = Dataset("tiny", catalog, train, test)
    use_case = EvaluateStrategies({"popularity": lambda: PopularityRecommender(None)})
    report = use_case.execute(EvaluationQuery(dataset, ["popularity"], "fixed", k=1))
    # u1 (saw a, c) gets b: hit; u2 (saw a, b) gets c: miss; u3 (saw a, b) gets c: hit.
    metrics = report.results[0].metrics
    assert metrics.precision == pytest.approx(2 / 3)
    assert metrics.recall == pytest.approx(2 / 3)
    assert metrics.coverage == pytest.approx(2 / 4)
    assert metrics.users_evaluated == 3


def test_a_learner_absent_from_training_is_scored_on_the_list_the_service_serves_them():
    # the service never asks a personalised strategy for a learner without history: it serves
    # popularity's list (the hybrid's configured weights give popularity none, so asked, the
    # hybrid answered nothing and the newcomer counted as a miss)
    catalog = [course(c) for c in ("a", "b", "c", "d")]
    train = [event(u, c) for u, c in (("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "c"))]
    train += [event("u3", "a"), event("u3", "b"), event("u4", "d")]
    test = [event("newcomer", "a", minutes=9), event("u2", "b", minutes=10)]
    use_case = EvaluateStrategies(
        {
            "popularity": lambda: PopularityRecommender(None),
            "item_cf": lambda: ItemCFRecommender(regularization=1.0),
        },
        {"hybrid": lambda components: HybridRecommender(components, {"item_cf": 1.0})},
    )
    query = EvaluationQuery(
        Dataset("tiny", catalog, train, test), ["popularity", "item_cf", "hybrid"], "fixed", k=1
    )
    report = use_case.execute(query)
    # the newcomer is the first learner evaluated: popularity's best course, a, is a hit
    newcomer = {r.strategy: r.metrics.per_learner["ndcg"][0] for r in report.results}
    assert newcomer == {"popularity": 1.0, "item_cf": 1.0, "hybrid": 1.0}
    assert all(r.metrics.users_evaluated == 2 for r in report.results)


def test_training_items_are_never_counted_as_test_hits():
    train = [event("u1", "course_sql_basic"), event("u2", "course_sql_basic")]
    test = [
        event("u1", "course_sql_basic", minutes=5),
        event("u2", "course_python_basic", minutes=5),
    ]
    use_case = EvaluateStrategies({"popularity": lambda: PopularityRecommender(None)})
    report = use_case.execute(
        EvaluationQuery(Dataset("tiny", CATALOG, train, test), ["popularity"], "fixed")
    )
    assert (report.results[0].metrics.users_evaluated, report.results[0].metrics.users_skipped) == (
        1,
        1,
    )
    assert report.results[0].intervals == {}  # one learner: no interval, not a made-up one
    # with no learner left, figures would be zeros of nothing measured
    with pytest.raises(NothingToEvaluate, match="each of its 1 test events is of a course"):
        use_case.execute(
            EvaluationQuery(Dataset("tiny", CATALOG, train, test[:1]), ["popularity"], "fixed")
        )


def test_an_unknown_strategy_or_protocol_is_refused():
    dataset = Dataset("tiny", CATALOG, many_events())
    use_case = EvaluateStrategies({"content": ContentRecommender})
    with pytest.raises(InvalidStrategy):
        use_case.execute(EvaluationQuery(dataset, ["oracle"]))
    with pytest.raises(ValueError, match="no split of its own"):
        use_case.execute(EvaluationQuery(dataset, ["content"], "fixed"))


def test_the_report_says_how_sure_each_figure_is_and_whether_the_baseline_is_clearly_ahead():
    # Every learner took four of the same five courses and is tested on the fifth: popularity
    # finds it; content finds the other courses, whose titles repeat the words of theirs.
    words = ("Algebra", "Botany", "Chemistry", "Drawing", "Economics")
    catalog = [course(f"c{i}", title=words[i]) for i in range(5)] + [
        course(f"c{i}", title=f"{words[i % 5]} and {words[(i + 1) % 5]}") for i in range(5, 30)
    ]
    rng = random.Random(5)
    train, test = [], []
    for u in range(120):
        hidden = rng.randrange(5)
        train += [event(f"u{u}", f"c{i}", minutes=i) for i in range(5) if i != hidden]
        train.append(event(f"u{u}", f"c{5 + rng.randrange(25)}", minutes=6))
        # a fifth of them are tested on one of the others instead, which popularity misses
        tested = f"c{5 + rng.randrange(25)}" if u % 5 == 0 else f"c{hidden}"
        test.append(event(f"u{u}", tested, minutes=9))
    dataset = Dataset("five", catalog, train, test)
    use_case = EvaluateStrategies(
        {"content": ContentRecommender, "popularity": lambda: PopularityRecommender(None)}
    )
    query = EvaluationQuery(dataset, ["content", "popularity"], "fixed", k=3, baseline="popularity")
    report = use_case.execute(query)
    content, popularity = report.results
    assert report.baseline == "popularity" and popularity.against_baseline == {}
    for result in report.results:
        for metric, value in (("ndcg", result.metrics.ndcg), ("recall", result.metrics.recall)):
            low, high = result.intervals[metric]
            assert low <= value <= high and high - low < 0.5
    difference, low, high = content.against_baseline["ndcg"]
    assert difference == pytest.approx(content.metrics.ndcg - popularity.metrics.ndcg)
    assert low <= difference <= high < 0  # clearly behind, on the same learners
    # the same draws every run: the figures of a report can be quoted
    again = use_case.execute(query)
    assert again.results[0].against_baseline == content.against_baseline
    # without one named, the first strategy listed (the hybrid, when evaluated) is the baseline
    unnamed = use_case.execute(EvaluationQuery(dataset, ["content", "popularity"], "fixed", k=3))
    assert unnamed.baseline == "content" and unnamed.results[1].against_baseline["ndcg"][0] > 0
    with pytest.raises(ValueError, match="the baseline 'hybrid' is not among"):
        use_case.execute(EvaluationQuery(dataset, ["content"], "fixed", baseline="hybrid"))
