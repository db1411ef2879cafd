"""Strategy ports: what every recommender implements."""

from __future__ import annotations

import abc
import random
from collections.abc import Collection, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from domain.model import ArmStats, Course, CourseId, Interaction, LearnerHistory, Recommendation

#: a fitted state as artifact files (name -> bytes) and manifest fields
Published = tuple[dict[str, bytes], dict[str, Any]]


class Recommender(abc.ABC):
    """A recommendation strategy, fitted on a catalog and interactions, asked per learner or course.

    Scores are strategy-specific (higher is better); ranks start at 1. Recommenders never return a
    course in `exclude` and return at most `k` items, fewer only when the catalog runs out.
    """

    name: str
    #: True when the strategy needs a learner history; an unknown learner then gets a fallback.
    personalised: bool = True
    #: settings that act when scoring only: rescored() changes them without a refit
    scoring_settings: frozenset[str] = frozenset()

    @abc.abstractmethod
    def fit(self, courses: Sequence[Course], interactions: Sequence[Interaction]) -> None:
        """Learn from the catalog and the interactions (oldest first)."""

    def rescored(self, **settings: Any) -> Recommender:
        """A copy of this fitted recommender that scores with other values of its
        `scoring_settings`, sharing the fitted state (what a settings search tries cheaply)."""
        raise NotImplementedError(f"{self.name} has no settings that act when scoring only")

    def fitted_settings(self) -> dict[str, Any]:
        """The settings this fitted recommender uses, pinned, chosen or default (what an
        evaluation reports it measured); empty for a strategy without settings."""
        return {}

    def inert_settings(self) -> frozenset[str]:
        """Settings this fitted recommender does not depend on, which a search need not try
        (e.g. item_cf's λ once the catalog is past its dense limit and it fitted item-kNN)."""
        return frozenset()

    def dump(self) -> Published:
        """The fitted state as files and manifest fields: what the trainer publishes."""
        raise NotImplementedError(f"{self.name} has no published form")

    def serving_files(self, manifest: Mapping[str, Any]) -> Collection[str] | None:
        """Which of a published version's files restore() reads (None: all of them)."""
        return None

    def restore(
        self,
        files: Mapping[str, bytes],
        manifest: Mapping[str, Any],
        catalog: Mapping[CourseId, Course],
    ) -> None:
        """Answer from a published state (what a web worker does instead of fit()). `catalog`
        is the current catalog: titles and categories come from it, courses from the files."""
        raise NotImplementedError(f"{self.name} has no published form")

    @abc.abstractmethod
    def recommend(
        self,
        learner: LearnerHistory,
        k: int,
        exclude: AbstractSet[CourseId] = frozenset(),
        explain: bool = True,
    ) -> list[Recommendation]:
        """Top-k courses for a learner, each with a reason that is true for that learner
        (explain=False leaves reasons empty: explain() fills them in for the items served)."""

    def scored(
        self, learner: LearnerHistory, k: int, exclude: AbstractSet[CourseId] = frozenset()
    ) -> list[tuple[CourseId, float]]:
        """recommend(explain=False) as (course id, raw score) pairs, at most k, best first,
        none of `exclude`: what a blend reads of each component, without building a
        Recommendation per candidate."""
        return [(r.course_id, r.score) for r in self.recommend(learner, k, exclude, explain=False)]

    def explain(
        self, learner: LearnerHistory, items: Sequence[Recommendation]
    ) -> list[Recommendation]:
        """`items` (this strategy's, from recommend(explain=False)) with their reasons."""
        return list(items)

    def recommend_many(
        self,
        learners: Sequence[LearnerHistory],
        k: int,
        excludes: Sequence[AbstractSet[CourseId]],
        explain: bool = True,
    ) -> list[list[Recommendation]]:
        """recommend() for many learners at once (evaluation); reasons may be left empty."""
        return [
            self.recommend(learner, k, exclude)
            for learner, exclude in zip(learners, excludes, strict=True)
        ]

    @abc.abstractmethod
    def similar(
        self, course_id: CourseId, k: int, exclude: AbstractSet[CourseId] = frozenset()
    ) -> list[Recommendation]:
        """Top-k courses like `course_id` (never the course itself); raises UnknownCourse."""

    @property
    def ready(self) -> bool:
        """True once the recommender can answer (fitted, or a model is loaded)."""
        return True

    def answers(self, learner: LearnerHistory) -> bool:
        """Whether this strategy has anything to go on for `learner`, told without scoring (what
        `strategy=auto` asks of every arm on each request). False: the learner gets popularity;
        True may still find nothing."""
        return self.ready and not (self.personalised and learner.is_new)

    @property
    def model_version(self) -> str | None:
        """The version of the trained artifact answering, for strategies that load one."""
        return None

    def describe(self) -> dict[str, object]:
        """What an operator should know about this recommender (model version, index, errors)."""
        return {"loaded": self.ready}


class CandidateIndex(abc.ABC):
    """Maximum-inner-product search over course vectors (L2-normalised, so cosine similarity)."""

    kind: str

    @abc.abstractmethod
    def build(self, course_ids: Sequence[CourseId], vectors: Sequence[Sequence[float]]) -> None:
        """Index one vector per course, replacing whatever was indexed before."""

    @abc.abstractmethod
    def search(
        self, query: Sequence[float], k: int, exclude: AbstractSet[CourseId] = frozenset()
    ) -> list[tuple[CourseId, float]]:
        """The k best (course, score) pairs, best first, none of them in `exclude`.

        Fewer than k only when the index holds fewer than k courses outside `exclude`.
        """

    @property
    @abc.abstractmethod
    def size(self) -> int:
        """How many courses are indexed."""


class Bandit(abc.ABC):
    """A policy choosing among arms (strategies) from their statistics."""

    name: str

    @abc.abstractmethod
    def choose(self, arms: Sequence[str], stats: Mapping[str, ArmStats], rng: random.Random) -> str:
        """One arm for the next slate."""

    @abc.abstractmethod
    def probabilities(self, arms: Sequence[str], stats: Mapping[str, ArmStats]) -> dict[str, float]:
        """How likely each arm is to be chosen next (they sum to 1)."""
