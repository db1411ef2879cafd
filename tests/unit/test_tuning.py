"""Fit-time tuning chooses settings on the training part only, and leaves pinned ones alone."""

from __future__ import annotations

import random

import numpy as np
import pytest

from adapters.item_cf import ItemCFRecommender
from adapters.popularity import PopularityRecommender
from adapters.two_tower.recommender import TwoTowerRecommender
from adapters.two_tower.trainer import TwoTowerTrainer
from application.evaluation.dataset import Dataset
from application.tuning import tune
from application.use_cases.evaluate_strategies import EvaluateStrategies, EvaluationQuery
from domain.model import LearnerHistory
from tests.conftest import course, event

SMALL_TOWER = {
    "epochs": 30,
    "patience": 30,
    "min_patience": 30,
    "batch_size": 64,
    "buckets": 1 << 12,
    "user_buckets": 1 << 10,
    "hidden_dims": [32],
    "embedding_dim": 16,
    "learning_rate": 0.01,
    "recency_decay": 0.5,
    "members": 1,
}


def two_tower(**settings):  # type: ignore[no-untyped-def]
    return TwoTowerRecommender(trainer=TwoTowerTrainer({**SMALL_TOWER, **settings}))


FACTORIES = {"two_tower": two_tower, "item_cf": ItemCFRecommender}


def sequential(chains: int = 6, length: int = 12, learners: int = 60, seed: int = 1):
    """Courses in rings taken in order: each learner starts somewhere on one ring and takes the
    next 4-8 courses one after another. Co-occurrence is symmetric (a course's neighbours before
    and after it are equally alike), only the order says which way learners go."""
    rng = random.Random(seed)
    catalog = [
        course(f"r{c}_{i}", category=f"Ring {c}") for c in range(chains) for i in range(length)
    ]
    events = []
    for n in range(learners * chains):
        ring, start, size = n % chains, rng.randrange(length), rng.randint(4, 8)
        for step in range(size):
            events.append(
                event(f"u{n}", f"r{ring}_{(start + step) % length}", "enroll", n + step * 10_000)
            )
    return catalog, events


def order_free(groups: int = 6, size: int = 12, learners: int = 60, seed: int = 2):
    """Each learner takes a random 5-8 courses of one group; which of them are missing from a
    history has nothing to do with when they were taken (the holdout is random), though the
    timestamps follow the catalog order, as after a bulk import."""
    rng = random.Random(seed)
    catalog = [
        course(f"g{g}_{i}", category=f"Group {g}") for g in range(groups) for i in range(size)
    ]
    events = []
    for n in range(learners * groups):
        group = n % groups
        for step, i in enumerate(sorted(rng.sample(range(size), rng.randint(5, 8)))):
            events.append(event(f"u{n}", f"g{group}_{i}", "enroll", n + step * 10_000))
    return catalog, events


def test_the_search_picks_the_next_objective_when_learners_move_on_in_order():
    catalog, events = sequential()
    result = tune(catalog, events, {"two_tower": two_tower}, budget_seconds=300)
    assert result.settings["two_tower"]["objective"] == "next"


def test_the_search_picks_the_order_free_objective_when_order_means_nothing():
    catalog, events = order_free()
    result = tune(catalog, events, {"two_tower": two_tower}, budget_seconds=300, protocol="random")
    assert result.settings["two_tower"]["objective"] == "all"


def test_the_hybrid_weights_are_searched_on_the_two_tower_ensemble_that_is_served():
    """One-member trials choose the objective; the served ensemble is trained once more, so the
    weight search sees the lists of the model that will answer, not of a weaker single member."""
    catalog, events = sequential(learners=20)
    factories = {"two_tower": two_tower, "item_cf": ItemCFRecommender}
    pinned = {"two_tower": {"objective": "next"}}
    result = tune(catalog, events, factories, pinned, budget_seconds=300)
    members = result.settings["two_tower"]["members"]
    trials = [t for t in result.trials if t["strategy"] == "two_tower"]
    assert members > 1
    assert [t["settings"]["members"] for t in trials] == [1, members]
    assert result.validation["two_tower"]["ndcg@10"] == trials[-1]["ndcg@10"]
    assert set(result.settings["hybrid"]["weights"]) == {"two_tower", "item_cf"}


def test_a_pinned_setting_is_used_as_given_and_never_searched():
    catalog, events = sequential(learners=20)
    pinned = {"item_cf": {"regularization": 7.0}, "hybrid": {"weights": {"item_cf": 1.0}}}
    result = tune(catalog, events, {"item_cf": ItemCFRecommender}, pinned, budget_seconds=60)
    tried = [t["settings"] for t in result.trials]
    assert {s["regularization"] for s in tried} == {7.0}
    assert len({s["recency_decay"] for s in tried}) > 1  # the setting not pinned is searched
    assert result.settings["item_cf"]["regularization"] == 7.0
    assert result.settings["hybrid"] == {"weights": {"item_cf": 1.0}}


def test_an_evaluation_without_a_search_fits_with_the_pinned_settings():
    """`recsys eval --tuning-budget 0` uses the configured settings as they are: pinned ones
    included, as the trainer does (they were left out, so the evaluation measured defaults)."""
    catalog, events = sequential(learners=20)
    fitted: list[float | None] = []

    class Spy(ItemCFRecommender):
        def fit(self, courses, interactions):  # type: ignore[no-untyped-def]
            super().fit(courses, interactions)
            fitted.append(self.chosen)

    evaluation = EvaluateStrategies({"item_cf": Spy}, tunable={"item_cf": Spy})
    pinned = {"item_cf": {"regularization": 7.0, "proximity_weight": 2.0}}
    dataset = Dataset("rings", catalog, events)
    report = evaluation.execute(EvaluationQuery(dataset, ["item_cf"], "random", pinned=pinned))
    assert report.tuning is None and fitted == [7.0]


def test_recency_weighting_is_chosen_for_item_cf_when_learners_move_on_in_order():
    catalog, events = sequential(learners=20)
    result = tune(catalog, events, {"item_cf": ItemCFRecommender}, budget_seconds=60)
    assert result.settings["item_cf"]["recency_decay"] < 1.0


def sessions(themes: int = 12, size: int = 6, learners: int = 150, seed: int = 3):
    """Each learner takes six themes one after another, three courses of each in a row: a
    history mixes many themes, but courses taken close together belong to one."""
    rng = random.Random(seed)
    catalog = [
        course(f"t{t}_{i}", category=f"Theme {t}") for t in range(themes) for i in range(size)
    ]
    events = []
    for n in range(learners):
        picks = [(t, i) for t in rng.sample(range(themes), 6) for i in rng.sample(range(size), 3)]
        events += [event(f"u{n}", f"t{t}_{i}", "enroll", s) for s, (t, i) in enumerate(picks)]
    return catalog, events


def test_the_search_counts_courses_taken_close_together_when_they_belong_together():
    catalog, events = sessions()
    result = tune(
        catalog, events, {"item_cf": ItemCFRecommender}, budget_seconds=60, protocol="random"
    )
    assert result.settings["item_cf"]["proximity_weight"] > 0
    # the four recency trials without proximity, then the same with it
    before, near = result.trials[:4], result.trials[4]
    assert near["settings"]["proximity_weight"] == 4.0
    assert near["ndcg@10"] > max(t["ndcg@10"] for t in before)


def test_with_no_budget_left_the_first_setting_is_kept_and_the_search_says_so():
    catalog, events = sequential(learners=20)
    said: list[str] = []
    result = tune(
        catalog, events, {"item_cf": ItemCFRecommender}, budget_seconds=0, progress=said.append
    )
    assert result.budget_exhausted
    assert len(result.trials) == 1
    # once, not once per setting left unsearched
    assert sum(line.startswith("tuning: budget spent") for line in said) == 1, said


def test_the_search_never_reads_the_test_part():
    """The training part is orderly, the test part random courses: what the search finds on its
    validation split is real, and the test figures stay at chance."""
    catalog, events = sequential(learners=20)
    rng = random.Random(3)
    learners = sorted({e.user_id for e in events})
    test = [
        event(u, rng.choice(catalog).course_id, "enroll", 10**6 + i, f"t{i}")
        for i, u in enumerate(learners)
    ]
    evaluation = EvaluateStrategies(
        {"item_cf": ItemCFRecommender, "popularity": PopularityRecommender},
        tunable={"item_cf": ItemCFRecommender, "popularity": PopularityRecommender},
    )
    report = evaluation.execute(
        EvaluationQuery(Dataset("rings", catalog, events, test), ["item_cf"], "fixed", tune=True)
    )
    assert report.tuning is not None
    assert report.tuning.validation["item_cf"]["ndcg@10"] > 0.8
    recall = report.results[0].metrics.recall
    chance = 10 / (len(catalog) - 6)  # a learner has seen 4-8 of the 72 courses
    # at most chance: item_cf lists only the courses the history speaks for, often fewer than 10
    assert recall <= chance + 0.08


def test_the_hybrids_validation_figure_is_averaged_like_a_single_strategys():
    from application.weight_search import search_weights
    from domain.model import CourseId, Recommendation

    def ranked(*ids: str) -> list[Recommendation]:
        return [
            Recommendation(CourseId(c), 1.0 - i / 10, i + 1, "item_cf") for i, c in enumerate(ids)
        ]

    lists = {"item_cf": [ranked("a", "b"), ranked("c", "d")]}
    # the second learner's held-out courses were all seen before: nothing to find, not a miss
    weights, ndcg = search_weights(lists, [{CourseId("a")}, set()])
    assert weights["item_cf"] > 0 and ndcg == 1.0


def test_the_hybrid_weighs_the_sequence_strategy_when_learners_move_on_in_order():
    from adapters.sequence import SequenceRecommender

    catalog, events = sequential(learners=20)
    factories = {"item_cf": ItemCFRecommender, "sequence": SequenceRecommender}
    result = tune(catalog, events, factories, budget_seconds=60)
    assert result.settings["hybrid"]["weights"]["sequence"] > 0
    assert result.validation["sequence"]["ndcg@10"] > result.validation["item_cf"]["ndcg@10"]


def test_settings_validation_found_nothing_with_are_not_chosen_over_the_configured_ones():
    """Each learner's courses are theirs alone, so no setting finds a held-out course. The
    search took the first grid point then, two_tower 0.25 and every other weight 0, and the
    trainer published that hybrid over the configured weights."""
    catalog = [course(f"c{n}_{i}") for n in range(40) for i in range(6)]
    events = [
        event(f"u{n}", f"c{n}_{i}", "enroll", n * 100 + i) for n in range(40) for i in range(6)
    ]
    said: list[str] = []
    factories = {"item_cf": ItemCFRecommender, "popularity": PopularityRecommender}
    result = tune(catalog, events, factories, budget_seconds=60, progress=said.append)
    assert result.validation["item_cf"]["ndcg@10"] == 0.0
    assert "hybrid" not in result.settings
    assert any("the configured weights stay" in line for line in said)
    # nor item_cf's first λ over its own choice on the data
    assert result.settings["item_cf"] == {}
    assert any("item_cf: no setting found" in line for line in said)


class VirtualClock:
    """The search's clock in the budget tests: it moves only when a stand-in fit says it took
    time, so what the budget reaches does not depend on how busy the machine is."""

    seconds = 0.0

    @classmethod
    def now(cls) -> tuple[float, float]:
        return cls.seconds, cls.seconds  # (wall clock, CPU time), as tuning._now returns


@pytest.fixture
def virtual_clock(monkeypatch):  # type: ignore[no-untyped-def]
    from application import tuning

    monkeypatch.setattr(tuning, "_now", VirtualClock.now)


def burning(seconds: float) -> None:
    """A fit that takes `seconds` of work, on the virtual clock."""
    VirtualClock.seconds += seconds


class SlowItemCF(ItemCFRecommender):
    """item_cf whose every fit costs `FIT` CPU seconds, as a full-size fit does at scale."""

    FIT = 0.2

    def fit(self, courses, interactions):  # type: ignore[no-untyped-def]
        burning(self.FIT)
        super().fit(courses, interactions)


def test_a_budget_that_runs_short_still_compares_two_towers_objectives(virtual_clock):
    """On a large deployment each item_cf trial is a full-size fit; the search must not spend
    the budget on item_cf's grid before it has compared two_tower's objectives."""

    def quick_two_tower(objective: str = "next", members: int = 1) -> ItemCFRecommender:
        return ItemCFRecommender()  # stands in: what matters here is which trials run

    from adapters.sequence import SequenceRecommender

    catalog, events = sequential(learners=10)
    factories = {
        "item_cf": SlowItemCF,
        "two_tower": quick_two_tower,
        "sequence": SequenceRecommender,
    }
    result = tune(catalog, events, factories, budget_seconds=0.5)
    tried = {t["settings"].get("objective") for t in result.trials if t["strategy"] == "two_tower"}
    assert tried == {"next", "all"}
    # sequence's search is one fit and two rescorings: it comes before item_cf's costly grid
    assert sum(t["strategy"] == "sequence" for t in result.trials) == 3
    assert result.budget_exhausted  # item_cf's grid was cut short instead


def test_the_served_size_two_tower_trial_is_not_charged_to_the_search(virtual_clock):
    """The ensemble is trained once more at the served size for the hybrid's weights; that trial
    is sized like the final fit, and must not leave item_cf's search without a budget."""

    class Ensemble(ItemCFRecommender):
        def __init__(self, objective: str = "next", members: int = 1) -> None:
            super().__init__()
            self.members = members

        def fit(self, courses, interactions):  # type: ignore[no-untyped-def]
            burning(0.4 * self.members)
            super().fit(courses, interactions)

    class QuickerItemCF(SlowItemCF):
        FIT = 0.04

    catalog, events = sequential(learners=10)
    factories = {"item_cf": QuickerItemCF, "two_tower": Ensemble}
    result = tune(catalog, events, factories, budget_seconds=2.0)
    assert result.settings["two_tower"]["members"] == 3
    assert sum(t["strategy"] == "item_cf" for t in result.trials) == 10  # its whole grid
    assert not result.budget_exhausted


def test_on_a_large_deployment_two_towers_trials_fit_on_a_share_of_the_learners(monkeypatch):
    """Above MAX_TRIAL_EVENTS two_tower's objectives are compared on the validation learners and
    a random share of the others; what is chosen is trained once more on every learner, and the
    hybrid's weights are searched on that. item_cf fits on every learner (its λ depends on it)."""
    from application import validation_split

    fitted: list[tuple[str, dict, set[str]]] = []
    asked: set[str] = set()  # the validation learners

    def recording(strategy: str, base: type) -> type:
        class Recording(base):  # type: ignore[misc, valid-type]
            def __init__(self, **settings):  # type: ignore[no-untyped-def]
                super().__init__(**settings)
                self.asked = settings

            def fit(self, courses, interactions):  # type: ignore[no-untyped-def]
                fitted.append((strategy, self.asked, {e.user_id for e in interactions}))
                super().fit(courses, interactions)

            def recommend_many(self, learners, k, excludes, explain=True):  # type: ignore[no-untyped-def]
                asked.update(learner.user_id for learner in learners)
                return super().recommend_many(learners, k, excludes, explain)

        return Recording

    class StandIn(ItemCFRecommender):
        def __init__(self, objective: str = "next", members: int = 1) -> None:
            super().__init__(recency_decay=0.5 if objective == "next" else 1.0)

    catalog, events = sequential(learners=40)  # 240 learners, about 1,440 events
    monkeypatch.setattr(validation_split, "MAX_TRIAL_EVENTS", 400)
    monkeypatch.setattr(validation_split, "MAX_USERS", 30)
    factories = {
        "two_tower": recording("two_tower", StandIn),
        "item_cf": recording("item_cf", ItemCFRecommender),
    }
    result = tune(catalog, events, factories, budget_seconds=60)

    assert result.learners == 240 and 30 <= result.trial_learners < 100
    two_tower = [(settings, learners) for name, settings, learners in fitted if name == "two_tower"]
    assert [s["objective"] for s, _ in two_tower] == ["next", "all", "next"]
    assert [len(learners) for _, learners in two_tower] == [result.trial_learners] * 2 + [240]
    assert all(len(learners) == 240 for name, _, learners in fitted if name == "item_cf")
    assert asked <= two_tower[0][1] and len(asked) == 30  # every validation learner is in it
    assert result.settings["two_tower"] == {"objective": "next", "members": 3}
    served = result.trials[2]
    assert (
        served["learners"] == 240 and result.validation["two_tower"]["ndcg@10"] == served["ndcg@10"]
    )

    fitted.clear()
    again = tune(catalog, events, factories, budget_seconds=60)
    assert [learners for name, _, learners in fitted if name == "two_tower"][0] == two_tower[0][1]
    assert again.settings == result.settings  # the same share each time


def test_recency_trials_rescore_the_fitted_model_instead_of_fitting_another():
    """item_cf's recency weighting acts when scoring only: its trials reuse the model fitted
    for the same λ, and rank exactly as a model fitted with that weighting does."""
    from adapters.sequence import SequenceRecommender

    fits: list[dict] = []

    class Counting(ItemCFRecommender):
        def fit(self, courses, interactions):  # type: ignore[no-untyped-def]
            fits.append({"regularization": self.regularization, "recency": self.recency_decay})
            super().fit(courses, interactions)

    catalog, events = sequential(learners=20)
    result = tune(catalog, events, {"item_cf": Counting}, budget_seconds=60)
    tried = [t for t in result.trials if t["strategy"] == "item_cf"]
    # one fit per λ and one with proximity; the recency trials rescore
    assert len(tried) == 10 and len(fits) == 7
    assert result.settings["item_cf"]["recency_decay"] < 1.0

    learners = [LearnerHistory(u, tuple(e for e in events if e.user_id == u)) for u in ("u3", "u7")]
    for kind, settings in (
        (ItemCFRecommender, {"regularization": 50.0}),
        (SequenceRecommender, {}),
    ):
        fitted = kind(**settings, recency_decay=1.0)
        fitted.fit(catalog, events)
        fresh = kind(**settings, recency_decay=0.3)
        fresh.fit(catalog, events)
        rescored = fitted.rescored(recency_decay=0.3)
        assert np.array_equal(rescored.scores(learners), fresh.scores(learners))
        assert not np.array_equal(fitted.scores(learners), fresh.scores(learners))
        assert fitted.recency_decay == 1.0  # the fitted model itself is unchanged


def test_past_the_dense_limit_item_cf_is_not_refitted_for_settings_item_knn_ignores():
    """Above max_dense_items item_cf fits item-kNN, which has no λ and no proximity weight: the
    search tries only the recency weighting (rescoring the one kNN fit) and says why."""
    fits: list[str] = []

    class Counting(ItemCFRecommender):
        def fit(self, courses, interactions):  # type: ignore[no-untyped-def]
            super().fit(courses, interactions)
            fits.append(self.kind)

    def large(**settings):  # type: ignore[no-untyped-def]
        return Counting(max_dense_items=10, **settings)

    catalog, events = sequential(learners=20)  # 72 courses
    lines: list[str] = []
    result = tune(catalog, events, {"item_cf": large}, budget_seconds=60, progress=lines.append)
    assert fits == ["knn"]
    assert {t["settings"]["recency_decay"] for t in result.trials} == {1.0, 0.7, 0.5, 0.3}
    assert result.settings["item_cf"]["recency_decay"] < 1.0  # still chosen on sequential data
    assert "regularization" not in result.settings["item_cf"]  # nothing to publish as chosen
    assert any("proximity_weight, regularization do not act" in line for line in lines)


def test_a_two_tower_with_nothing_left_to_search_is_fitted_once_on_every_learner(monkeypatch):
    """Pinned objective and size: no trial on a share whose lists would be thrown away."""
    from application import validation_split

    fitted: list[int] = []

    class StandIn(ItemCFRecommender):
        def __init__(self, objective: str = "next", members: int = 1) -> None:
            super().__init__()

        def fit(self, courses, interactions):  # type: ignore[no-untyped-def]
            fitted.append(len({e.user_id for e in interactions}))
            super().fit(courses, interactions)

    catalog, events = sequential(learners=40)
    monkeypatch.setattr(validation_split, "MAX_TRIAL_EVENTS", 400)
    monkeypatch.setattr(validation_split, "MAX_USERS", 30)
    pinned = {"two_tower": {"objective": "all", "members": 2}}
    result = tune(catalog, events, {"two_tower": StandIn}, pinned, budget_seconds=60)
    assert fitted == [240]
    assert result.settings["two_tower"] == {"objective": "all", "members": 2}
