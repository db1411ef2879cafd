"""EvaluateStrategies: fit each strategy on the training part only and rank for every test learner."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from application.evaluation.dataset import Dataset
from application.evaluation.metrics import MetricSummary, interval, resamples, summarise
from application.evaluation.splits import (
    Split,
    fixed_split,
    leave_last_out,
    random_split,
    temporal_split,
)
from application.hybrid import HybridRecommender
from application.tuning import HYBRID_COMPONENTS, SEARCH, Factories, TuningResult, tune
from application.use_cases.recommend_home import FALLBACK
from domain.errors import InvalidStrategy
from domain.model import CourseId, Interaction, LearnerHistory, UserId
from domain.ports import Recommender

PROTOCOLS = ("random", "temporal", "leave-last-out", "fixed")
USERS_PER_STEP = 256
#: the metrics given intervals and paired differences (MetricSummary.per_learner's keys)
INTERVAL_METRICS = ("ndcg", "recall")


@dataclass(frozen=True, slots=True)
class EvaluationQuery:
    dataset: Dataset
    strategies: Sequence[str]
    protocol: str = "random"
    k: int = 10
    seed: int = 42
    ratio: float = 0.75
    #: hybrid weights for this run (default: the configured ones)
    weights: Mapping[str, float] | None = None
    #: choose settings on a validation split of the training part first (application.tuning)
    tune: bool = False
    tuning_budget_seconds: float = 120.0
    #: strategy -> settings used as given and not searched
    pinned: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: the strategy the others are compared with, named before the figures are seen (choosing
    #: the one that scored best would make its lead look surer than it is); default: the hybrid
    #: when evaluated, else the first strategy listed
    baseline: str | None = None


@dataclass(frozen=True, slots=True)
class StrategyResult:
    strategy: str
    metrics: MetricSummary
    fit_seconds: float
    recommend_seconds: float
    #: metric -> 95% bootstrap interval of its mean over the evaluated learners
    intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    #: metric -> (this strategy's mean minus the baseline's on the same learners, and the 95%
    #: interval of that difference); empty for the baseline itself
    against_baseline: Mapping[str, tuple[float, float, float]] = field(default_factory=dict)
    #: the settings it was fitted with, searched, pinned or default (Recommender.fitted_settings)
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    dataset: str
    protocol: str
    k: int
    seed: int
    train_events: int
    test_events: int
    results: tuple[StrategyResult, ...]
    tuning: TuningResult | None = None
    #: the strategy the others are compared with (EvaluationQuery.baseline)
    baseline: str | None = None
    #: strategy -> settings used as given, searched or not (the hybrid's weights among them)
    pinned: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: test learners absent from the training part, scored on the fallback's list by every strategy
    new_learners: int = 0


#: progress(strategy, learners done, learners in all)
Progress = Callable[[str, int, int], None]


Composite = Callable[[Mapping[str, Recommender]], Recommender]
#: progress(one line) while settings are searched
TuningLines = Callable[[str], None]


class EvaluateStrategies:
    def __init__(
        self,
        factories: Mapping[str, Callable[[], Recommender]],
        composites: Mapping[str, Composite] | None = None,
        tunable: Factories | None = None,
    ) -> None:
        self.factories = dict(factories)
        self.composites = dict(composites or {})
        #: strategy -> factory taking keyword settings, for the strategies tuning can set up
        self.tunable = dict(tunable or {})

    def _single(
        self, name: str, tuned: TuningResult | None, pinned: Mapping[str, Mapping[str, Any]]
    ) -> Recommender:
        """Fitted with the settings the search chose, or without a search the pinned ones."""
        if tuned is not None and name in self.tunable and name in tuned.settings:
            return self.tunable[name](**tuned.settings[name])
        if tuned is None and name in self.tunable and pinned.get(name):
            return self.tunable[name](**pinned[name])
        return self.factories[name]()

    def _make(
        self,
        name: str,
        weights: Mapping[str, float] | None,
        tuned: TuningResult | None = None,
        pinned: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Recommender:
        pinned = pinned or {}
        if name in self.factories:
            return self._single(name, tuned, pinned)
        recommender = self.composites[name](
            {n: self._single(n, tuned, pinned) for n in self.factories}
        )
        if weights is None and tuned is not None and "hybrid" in tuned.settings:
            weights = tuned.settings["hybrid"]["weights"]
        if weights is not None and isinstance(recommender, HybridRecommender):
            recommender = recommender.with_weights(weights)
        return recommender

    def _tune(
        self, query: EvaluationQuery, split: Split, lines: TuningLines | None
    ) -> TuningResult | None:
        """Settings chosen on the TRAINING part only, split again like the outer protocol."""
        if not query.tune:
            return None
        wanted = {n for n in query.strategies if n in SEARCH}
        blended = any(n in self.composites for n in query.strategies)
        if blended:
            wanted |= set(HYBRID_COMPONENTS)
        factories = {n: f for n, f in self.tunable.items() if n in wanted}
        if not factories:
            return None
        return tune(
            query.dataset.courses,
            split.train,
            factories,
            _pinned(query),
            query.tuning_budget_seconds,
            lines,
            "random" if query.protocol == "random" else "temporal",
            query.seed,
            blended,
        )

    def execute(
        self,
        query: EvaluationQuery,
        progress: Progress | None = None,
        tuning_lines: TuningLines | None = None,
    ) -> EvaluationReport:
        for name in query.strategies:
            if name not in self.factories and name not in self.composites:
                raise InvalidStrategy(name, sorted([*self.factories, *self.composites]))
        baseline = baseline_of(query)
        split = self.split(query)
        histories = _histories(split.train)
        truth: dict[UserId, set[CourseId]] = defaultdict(set)
        for event in split.test:
            truth[event.user_id].add(event.course_id)
        for user, items in truth.items():
            items -= histories[user].seen() if user in histories else set()
        if not split.train or not any(truth.values()):  # before the search: it may take minutes
            raise NothingToEvaluate(_nothing(query, split))
        tuned = self._tune(query, split, tuning_lines)
        users = sorted(truth)
        learners = [histories.get(u, LearnerHistory(u)) for u in users]
        excludes = [learner.seen() for learner in learners]
        popularity = Counter(e.course_id for e in split.train)
        rank = {course: i for i, (course, _) in enumerate(popularity.most_common(), start=1)}
        cold = self._cold(query, split, learners)

        results = []
        for name in query.strategies:
            recommender = self._make(name, query.weights, tuned, query.pinned)
            started = time.perf_counter()
            recommender.fit(query.dataset.courses, split.train)
            fitted = time.perf_counter()
            ranked: dict[UserId, list[CourseId]] = dict(cold) if recommender.personalised else {}
            asked = [i for i, user in enumerate(users) if user not in ranked]
            for start in range(0, len(asked), USERS_PER_STEP):
                step = asked[start : start + USERS_PER_STEP]
                lists = recommender.recommend_many(
                    [learners[i] for i in step], query.k, [excludes[i] for i in step], explain=False
                )
                for i, items in zip(step, lists, strict=True):
                    ranked[users[i]] = [r.course_id for r in items]
                if progress:
                    progress(name, len(ranked), len(users))
            done = time.perf_counter()
            metrics = summarise(ranked, truth, query.k, len(query.dataset.courses), rank)
            results.append(
                StrategyResult(
                    name,
                    metrics,
                    fitted - started,
                    done - fitted,
                    settings=recommender.fitted_settings(),
                )
            )
        results = _with_intervals(results, baseline, query.seed)
        return EvaluationReport(
            query.dataset.name,
            query.protocol,
            query.k,
            query.seed,
            len(split.train),
            len(split.test),
            tuple(results),
            tuned,
            baseline,
            _pinned(query),
            sum(learner.is_new for learner in learners),
        )

    def _cold(
        self, query: EvaluationQuery, split: Split, learners: Sequence[LearnerHistory]
    ) -> dict[UserId, list[CourseId]]:
        """The fallback's lists for the learners absent from the training part, what the service
        serves them: RecommendHome never asks a personalised strategy (the hybrid among them)
        for a learner without history, but popularity. Asked, each had nothing to go on, and
        the hybrid answered nothing unless popularity had a weight (configured, it has none)."""
        new = [learner for learner in learners if learner.is_new]
        if not new or FALLBACK not in self.factories:
            return {}
        fallback = self.factories[FALLBACK]()
        fallback.fit(query.dataset.courses, split.train)
        lists = fallback.recommend_many(new, query.k, [frozenset()] * len(new), explain=False)
        return {
            learner.user_id: [r.course_id for r in items]
            for learner, items in zip(new, lists, strict=True)
        }

    @staticmethod
    def split(query: EvaluationQuery) -> Split:
        if query.protocol == "random":
            return random_split(_all(query.dataset), query.ratio, query.seed)
        if query.protocol == "temporal":
            return temporal_split(_all(query.dataset), query.ratio)
        if query.protocol == "leave-last-out":
            return leave_last_out(_all(query.dataset))
        if query.protocol == "fixed":
            if query.dataset.fixed_test is None:
                raise ValueError(
                    f"{query.dataset.name} has no split of its own; use random, temporal or leave-last-out"
                )
            return fixed_split(query.dataset.interactions, query.dataset.fixed_test)
        raise ValueError(f"unknown protocol {query.protocol!r}; use one of {', '.join(PROTOCOLS)}")


class NothingToEvaluate(ValueError):
    """No test learner has a course to find: figures would be zeros of nothing measured."""


def _nothing(query: EvaluationQuery, split: Split) -> str:
    said = f"no learner can be evaluated on {query.dataset.name} ({query.protocol} split): "
    if not split.train and not split.test:
        return said + "it holds no events"
    if not split.train:  # only a split of one's own can have none: an export that failed?
        return said + "its training part holds no events, so no strategy learns anything"
    if not split.test:
        if query.protocol == "fixed":
            return said + "its test part holds no events"
        return said + "its test part holds no events (each learner has too few to leave one)"
    return said + (
        f"each of its {len(split.test)} test events is of a course its learner has in the "
        "training part, which is never recommended again"
    )


def baseline_of(query: EvaluationQuery) -> str:
    """The strategy the others are compared with: the one asked for, else the hybrid when it is
    evaluated, else the first strategy listed."""
    if query.baseline is not None:
        if query.baseline not in query.strategies:
            raise ValueError(
                f"the baseline {query.baseline!r} is not among the strategies evaluated "
                f"({', '.join(query.strategies)})"
            )
        return query.baseline
    if HybridRecommender.name in query.strategies or not query.strategies:
        return HybridRecommender.name
    return query.strategies[0]


def _with_intervals(
    results: list[StrategyResult], baseline: str, seed: int
) -> list[StrategyResult]:
    """Each result with the intervals of its NDCG and recall, and its paired difference from the
    baseline's, all from the same bootstrap draws of the learners."""
    base = next((r for r in results if r.strategy == baseline), None)
    if base is None or base.metrics.users_evaluated < 2:  # nothing to resample
        return results
    learners = base.metrics.users_evaluated
    samples = resamples(learners, seed)
    out = []
    for result in results:
        mine = result.metrics.per_learner
        against = {}
        if result is not base:
            for metric in INTERVAL_METRICS:
                difference = np.subtract(mine[metric], base.metrics.per_learner[metric])
                against[metric] = (float(difference.mean()), *interval(difference, samples))
        intervals = {m: interval(mine[m], samples) for m in INTERVAL_METRICS}
        out.append(replace(result, intervals=intervals, against_baseline=against))
    return out


def _pinned(query: EvaluationQuery) -> dict[str, dict[str, Any]]:
    pinned = {name: dict(settings) for name, settings in query.pinned.items() if settings}
    if query.weights is not None:
        pinned["hybrid"] = {"weights": dict(query.weights)}
    return pinned


def _all(dataset: Dataset) -> list[Interaction]:
    """Every event, the dataset's own test part too: a protocol other than fixed splits them
    all its own way (leaving the test part out would evaluate a quarter less data unsaid)."""
    return dataset.interactions + (dataset.fixed_test or [])


def _histories(train: Sequence[Interaction]) -> dict[UserId, LearnerHistory]:
    grouped: dict[UserId, list[Interaction]] = defaultdict(list)
    for event in train:
        grouped[event.user_id].append(event)
    return {user: LearnerHistory(user, tuple(events)) for user, events in grouped.items()}
