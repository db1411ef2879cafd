"""The hybrid strategy: a weighted blend of other strategies' normalised scores.

Candidates are the union of each component's top `pool` courses. Each component's scores are
min-max normalised over its own candidates to [0, 1] (best = 1, its weakest candidate = 0; a course
outside a component's candidates gets 0 from it), so a weight means the same for every component
whatever its score scale. Components that cannot answer (no model, no history for them) are left
out and the remaining weights renormalised to sum to 1.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import replace
from typing import Any

from application.ranking import min_max
from domain.errors import DomainError, UnknownCourse
from domain.model import Course, CourseId, Interaction, LearnerHistory, Recommendation
from domain.ports import Recommender

_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
MAX_WEIGHT = 1000


class InvalidWeights(DomainError):
    code = "invalid_weights"


def parse_weights(text: str, valid: Sequence[str]) -> dict[str, float]:
    """'two_tower:0.6, content : 0.4' -> {'two_tower': 0.6, 'content': 0.4}, validated; spaces
    around names and weights do not matter, a name given twice is refused."""
    weights: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = (piece.strip() for piece in part.partition(":"))
        if not sep:
            raise InvalidWeights(f"weights look like 'two_tower:0.6,content:0.4', got {part!r}")
        if name not in valid:
            raise InvalidWeights(f"no strategy {name!r} to weigh; choose from {', '.join(valid)}")
        if name in weights:
            raise InvalidWeights(f"{name} is weighted twice; give each strategy one weight")
        # plain ASCII numbers: float() also takes "1_0", "١" (Arabic-Indic one) and "nan"
        if not _NUMBER.fullmatch(value):
            raise InvalidWeights(f"the weight of {name} must be a number, got {value!r}")
        weights[name] = checked_weight(name, float(value))
    return checked_blend(weights)


def checked_weight(name: str, weight: float) -> float:
    """The rule a request's and a configured weight both follow."""
    if not 0 <= weight <= MAX_WEIGHT:
        raise InvalidWeights(f"the weight of {name} must be between 0 and {MAX_WEIGHT}")
    return weight


def checked_blend(weights: Mapping[str, float]) -> dict[str, float]:
    """Weights that can blend something: all zero, the hybrid could never answer."""
    if sum(weights.values()) <= 0:
        raise InvalidWeights("at least one weight must be positive")
    return dict(weights)


class HybridRecommender(Recommender):
    name = "hybrid"

    def __init__(
        self, components: Mapping[str, Recommender], weights: Mapping[str, float], pool: int = 100
    ) -> None:
        self.components = dict(components)
        self.weights = {n: w for n, w in weights.items() if n in self.components and w > 0}
        self.pool = pool

    def with_weights(self, weights: Mapping[str, float]) -> HybridRecommender:
        return HybridRecommender(self.components, weights, self.pool)

    @property
    def ready(self) -> bool:
        return any(self.components[n].ready for n in self.weights)

    def answers(self, learner: LearnerHistory) -> bool:
        return super().answers(learner) and any(
            self.components[n].answers(learner) for n in self.weights
        )

    def fit(self, courses: Sequence[Course], interactions: Sequence[Interaction]) -> None:
        for name in self.weights:
            self.components[name].fit(courses, interactions)

    def _active(self, learner: LearnerHistory | None) -> dict[str, float]:
        active = {
            n: w
            for n, w in self.weights.items()
            if self.components[n].ready
            and not (learner is not None and learner.is_new and self.components[n].personalised)
        }
        total = sum(active.values())
        return {n: w / total for n, w in active.items()} if total else {}

    def blend(
        self, lists: Mapping[str, list[Recommendation]], weights: Mapping[str, float], k: int
    ) -> list[Recommendation]:
        """The k best courses by weighted normalised score. Each keeps the reason (if any) of
        the component that contributed most to it: one reason, about one course."""
        # Lists asked with explain=False carry no reasons: keep only those of lists that do.
        reasons = {
            name: {item.course_id: item.reason for item in items}
            for name, items in lists.items()
            if any(item.reason for item in items)
        }
        scored = {name: [(r.course_id, r.score) for r in items] for name, items in lists.items()}
        return self._blend(scored, weights, k, reasons)

    def _blend(
        self,
        scored: Mapping[str, list[tuple[CourseId, float]]],
        weights: Mapping[str, float],
        k: int,
        reasons: Mapping[str, Mapping[CourseId, str]],
    ) -> list[Recommendation]:
        """blend() of (course, score) pairs; `reasons`: per component, of the courses it gave one."""
        contributions: dict[CourseId, dict[str, float]] = {}
        for name, pairs in scored.items():
            for course_id, value in min_max(pairs).items():
                contributions.setdefault(course_id, {})[name] = weights[name] * value
        # A request blends about 300 candidates to keep 30: sum each once and sort plain tuples
        # (no key function per candidate); course ids are unique, so the order is the same.
        ranked = sorted((-sum(parts.values()), c) for c, parts in contributions.items())[:k]
        result = []
        for rank, (negated, course_id) in enumerate(ranked, start=1):
            parts = contributions[course_id]
            # the component it owes most to; when it owes none anything (each gave it the lowest
            # of its scores: a list with places left), one that listed it, so that its reason
            # comes from a strategy that can say what is true of it
            via = max(parts, key=lambda n: (parts[n], n))
            reason = reasons[via].get(course_id, "") if via in reasons else ""
            result.append(Recommendation(course_id, -negated, rank, self.name, reason, via))
        return result

    def explain(
        self, learner: LearnerHistory, items: Sequence[Recommendation]
    ) -> list[Recommendation]:
        """Each item's reason from the component it owes most to (`via`: blend() names one for
        every course, one that listed it; every component says only what is true of a course,
        also of one it ranks last)."""
        by_component: dict[str, list[int]] = {}
        for position, item in enumerate(items):
            by_component.setdefault(item.via, []).append(position)
        explained = list(items)
        for via, positions in by_component.items():
            if via not in self.components:
                continue  # not one of the hybrid's own: its reason stays as given
            theirs = self.components[via].explain(
                learner, [replace(items[p], strategy=via) for p in positions]
            )
            for p, item in zip(positions, theirs, strict=True):
                explained[p] = replace(items[p], reason=item.reason)
        return explained

    def recommend(
        self,
        learner: LearnerHistory,
        k: int,
        exclude: AbstractSet[CourseId] = frozenset(),
        explain: bool = True,
    ) -> list[Recommendation]:
        weights = self._active(learner)
        # Pairs, not Recommendations: only the scores are blended, and a request asks for
        # about 300 candidates to serve 10 (the components explain the served ones later).
        scored = {
            n: self.components[n].scored(learner, max(k, self.pool), exclude) for n in weights
        }
        blended = self._blend(scored, weights, k, {})
        return self.explain(learner, blended) if explain else blended

    def recommend_many(
        self,
        learners: Sequence[LearnerHistory],
        k: int,
        excludes: Sequence[AbstractSet[CourseId]],
        explain: bool = True,
    ) -> list[list[Recommendation]]:
        weights = self._active(None)
        per_component = {
            n: self.components[n].recommend_many(learners, max(k, self.pool), excludes, False)
            for n in weights
        }
        blended = [
            self.blend({n: lists[i] for n, lists in per_component.items()}, weights, k)
            for i in range(len(learners))
        ]
        if explain:
            return [self.explain(learner, b) for learner, b in zip(learners, blended, strict=True)]
        return blended

    def similar(
        self, course_id: CourseId, k: int, exclude: AbstractSet[CourseId] = frozenset()
    ) -> list[Recommendation]:
        weights = self._active(None)
        lists: dict[str, list[Recommendation]] = {}
        unknown: UnknownCourse | None = None
        for name in weights:
            try:
                lists[name] = self.components[name].similar(course_id, max(k, self.pool), exclude)
            except UnknownCourse as error:  # newer than this component's model: the others answer
                unknown = error
            except DomainError:
                continue  # a component that cannot do "similar" sits this one out
        if not lists and unknown is not None:
            raise unknown
        return self.blend(lists, {n: weights[n] for n in lists}, k)

    def fitted_settings(self) -> dict[str, Any]:
        """The weights, and the settings of each component they blend (an item_cf λ pinned for
        the hybrid's component shows here even when item_cf is not evaluated alone)."""
        components = {n: self.components[n].fitted_settings() for n in self.weights}
        return {"weights": dict(self.weights), "components": components}

    def describe(self) -> dict[str, object]:
        return {"loaded": self.ready, "weights": self.weights, "active": self._active(None)}
