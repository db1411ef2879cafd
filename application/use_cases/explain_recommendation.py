"""ExplainRecommendation: why (not) this course for this learner, per strategy and per rule."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from application.caveats import caveat
from application.hybrid import HybridRecommender, InvalidWeights
from application.ports import UnitOfWork
from application.ranking import RankingPolicy, prerequisites_first, rerank
from application.strategies import Snapshot, StrategyRegistry
from application.use_cases.recommend_home import (
    FALLBACK,
    filled,
    filtered_out,
    in_catalog,
    ranked_candidates,
    with_weights,
)
from domain.errors import InvalidStrategy, UnknownCourse
from domain.model import Course, CourseId, Excluded, LearnerHistory, Level, UserId
from domain.ports import Recommender


@dataclass(frozen=True, slots=True)
class ExplainQuery:
    user_id: UserId
    course_id: CourseId
    strategy: str | None = None
    strict_prerequisites: bool = False
    #: the length of the home list to explain: the ranking stage sees the candidates home does
    k: int = 10
    #: the home list's filters, if it had any
    category: str | None = None
    level: Level | None = None
    #: the per-request hybrid weights the home list was served with, if any
    weights: Mapping[str, float] | None = None


class ExplainRecommendation:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        strategies: StrategyRegistry,
        policy: RankingPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.uow_factory = uow_factory
        self.strategies = strategies
        self.policy = policy or RankingPolicy()
        self.clock = clock

    def execute(self, query: ExplainQuery) -> dict[str, Any]:
        snapshot = self.strategies.snapshot_knowing(query.course_id)
        course = snapshot.courses.get(query.course_id)
        if course is None:
            raise UnknownCourse(query.course_id)
        if query.strategy and query.strategy not in snapshot.recommenders:
            not_for = "explanations" if query.strategy in self.strategies.names else ""
            raise InvalidStrategy(query.strategy, sorted(snapshot.recommenders), not_for)
        if query.weights and query.strategy not in (None, HybridRecommender.name):
            raise InvalidWeights(
                f"weights apply to the hybrid strategy only, not to {query.strategy!r}; leave "
                "them out or ask for strategy=hybrid"
            )
        names = [query.strategy] if query.strategy else sorted(snapshot.recommenders)
        if query.weights and HybridRecommender.name not in names:
            raise InvalidWeights("weights apply to the hybrid strategy, which is not served here")
        with self.uow_factory() as uow:
            history = uow.interactions.history(query.user_id)
        removed = []
        strongest = history.strongest().get(course.course_id)
        if strongest is not None and strongest.takes_the_course:
            removed.append(f"removed: the learner {strongest.past_tense} it")
        if not course.active:
            removed.append("removed: the course is inactive")
        filtered = filtered_out(snapshot, query.category, query.level)
        if course.course_id in filtered:
            removed.append(f"removed: outside the filters ({_filters(query)})")
        policy = replace(self.policy, strict_prerequisites=query.strict_prerequisites)
        # What a home request leaves out, so that ranks are those the learner is served.
        exclude = Excluded(history.taken(), snapshot.inactive, filtered)
        per_strategy = []
        for name in names:
            recommender = snapshot.recommenders.get(name)
            if recommender is None:
                continue
            entry: dict[str, Any] = {"strategy": name, "ready": recommender.ready}
            if removed:  # no strategy's score or rank matters: the list never shows it
                entry.update(_never_shown(removed))
            elif with_weights(recommender, query.weights).answers(history):  # as home asks
                entry.update(self._ranked(name, snapshot, history, course, exclude, query, policy))
            else:
                entry["note"] = _passed_over(recommender, history)
            per_strategy.append(entry)
        return {
            "user_id": query.user_id,
            "course_id": course.course_id,
            "title": course.title,
            "learner_events": len(history.events),
            "removed_by": removed,
            "strategies": per_strategy,
        }

    def _ranked(
        self,
        name: str,
        snapshot: Snapshot,
        history: LearnerHistory,
        course: Course,
        exclude: AbstractSet[CourseId],
        query: ExplainQuery,
        policy: RankingPolicy,
    ) -> dict[str, Any]:
        """The course's raw score and rank, and its final rank and rules as a home request of
        `query.k` courses ranks it: from the same candidates, without the courses it leaves out,
        and among the popular courses that complete a list the strategy cannot fill."""
        course_id, catalog = course.course_id, snapshot.courses
        recommender = with_weights(snapshot.recommenders[name], query.weights)
        pool, _ = ranked_candidates(
            recommender, history, catalog, query.k, exclude, policy, self.clock()
        )
        # The whole pool in order, so a candidate placed after the k-th can say where it fell.
        final = rerank(pool, history, catalog, len(pool), policy, self.clock())
        shown = final.items[: query.k]
        # as home: a strategy the ranking stage left nothing of falls back to popularity whole
        if final.items and name != FALLBACK and len(final.items) < query.k:
            shown = shown + filled(snapshot, history, shown, exclude, query.k, policy, self.clock())
        shown = prerequisites_first(shown, catalog, history)  # as home serves it
        served = next((r for r in shown if r.course_id == course_id), None)
        rules = final.rules.get(course_id, [])
        placed = next((r for r in final.items if r.course_id == course_id), None)
        if placed is not None and served is None:
            rules = [
                f"outside the list of {query.k}: the ranking stage put it at place "
                f"{placed.rank} of {len(final.items)}",
                *rules,
            ]
        needed = history.needed_before(course, catalog) & {r.course_id for r in shown}
        before = [catalog[p].title for p in course.prerequisites if p in needed]
        further = [
            catalog[r.course_id].title
            for r in shown
            if r.course_id in needed and r.course_id not in course.prerequisites
        ]
        if served is not None and before:
            rules = [
                *rules,
                f"placed after {', '.join(before)}: its prerequisite, also in the list",
            ]
        if served is not None and further:
            rules = [
                *rules,
                f"placed after {', '.join(further)}: needed before its prerequisites, also in the list",
            ]
        found = next((r for r in pool if r.course_id == course_id), None)
        if found is None:  # outside the candidates: its rank among every course it may have
            ranked = recommender.recommend(history, len(catalog), exclude, explain=False)
            found = next((r for r in ranked if r.course_id == course_id), None)
            if found is not None:
                rules = [
                    f"not among the {len(pool)} candidates ranked for a list of {query.k}",
                    *rerank([found], history, catalog, 1, policy, self.clock()).rules.get(
                        course_id, []
                    ),
                ]
        if found is None and served is None:
            rules = [_unranked(recommender, course_id)]
        if served is not None and course_id not in {r.course_id for r in final.items}:
            ranked_here = f"this strategy ranked {len(final.items)} of {query.k}"
            rules = [f"a popular course completing the list: {ranked_here}"]
        if found is not None:
            found = recommender.explain(in_catalog(history, catalog), [found])[0]
        # what the learner reads: the ranking stage's reason (a next step) or the strategy's,
        # and what the course still needs
        reason = (served.reason if served else None) or (found.reason if found else None)
        return {
            "score": found.score if found else None,
            "rank": found.rank if found else None,
            "reason": reason + caveat(course, history, catalog) if reason else None,
            "candidates": len(pool),
            "rules": rules,
            "final_rank": served.rank if served else None,
            **_note(name, len(pool), len(final.items), query.k),
        }


def _never_shown(removed: list[str]) -> dict[str, Any]:
    """A course the home list leaves out before any strategy ranks: no score, rank or reason
    could ever reach the learner, so none is given."""
    why = "; ".join(r.removeprefix("removed: ") for r in removed)
    return {
        "score": None,
        "rank": None,
        "reason": None,
        "rules": [],
        "final_rank": None,
        "note": f"never shown to this learner: {why}",
    }


def _passed_over(recommender: Recommender, history: LearnerHistory) -> str:
    """Why a home request asking this strategy serves popular courses without scoring."""
    if not recommender.ready:
        return "no model loaded"
    if history.is_new:
        return "the learner has no history"
    return (
        "its model knows none of the learner's courses yet: a home request serves popular "
        "courses instead"
    )


def _unranked(recommender: Recommender, course_id: CourseId) -> str:
    """Why a strategy gives a course it may recommend no score at all for this learner."""
    known = getattr(recommender, "index", None)
    if known is not None and course_id not in known:
        return "not known to this strategy's model yet: it learns of it when it is next fitted"
    return "this strategy gives it no score: the learner's history as a whole does not speak for it"


def _filters(query: ExplainQuery) -> str:
    said = [f"category {query.category!r}"] if query.category is not None else []
    return ", ".join(said + ([f"level {query.level.value!r}"] if query.level else []))


def _note(name: str, candidates: int, ranked: int, k: int) -> dict[str, str]:
    """What a home request does when the strategy cannot fill the list on its own."""
    if name == FALLBACK and ranked < k:  # home does not complete popularity's own list
        return {"note": f"{ranked} courses may be recommended to this learner, fewer than {k}"}
    if not candidates:
        return {"note": "no candidates for this learner: popularity answers"}
    if not ranked:
        return {
            "note": f"the ranking stage removed all {candidates} candidates: popularity answers"
        }
    if ranked < k:
        return {"note": f"{ranked} of {k} places from this strategy: popular courses fill the rest"}
    return {}
