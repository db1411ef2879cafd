"""RecommendHome: a learner's home-page slate from one strategy, re-ranked and recorded."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TypeVar

from application.bandit import BanditService
from application.caveats import with_caveats
from application.hybrid import HybridRecommender, InvalidWeights
from application.ports import StorageUnavailable, UnitOfWork
from application.ranking import RankingPolicy, prerequisites_first, rerank
from application.recent_histories import RecentHistories
from application.slate_recorder import ErasedMeanwhile, SlateRecorder
from application.strategies import Snapshot, StrategyRegistry
from domain.model import (
    Course,
    CourseId,
    Excluded,
    LearnerHistory,
    Level,
    Recommendation,
    RecommendationId,
    Slate,
    UserId,
)
from domain.ports import Recommender

FALLBACK = "popularity"
AUTO = "auto"
#: slates' selected_by: the bandit chose their strategy (what it learns from), or strategy=auto
#: found one strategy that can answer the learner, so nobody chose
BANDIT = "bandit"
NO_CHOICE = "no_choice"


@dataclass(frozen=True, slots=True)
class RecommendHomeQuery:
    user_id: UserId
    k: int = 10
    strategy: str | None = None
    category: str | None = None
    level: Level | None = None
    strict_prerequisites: bool = False
    #: per-request hybrid weights
    weights: Mapping[str, float] | None = None
    #: False when nobody is shown the slate (HTTP HEAD): recording it would skew the CTR
    record: bool = True


@dataclass(frozen=True, slots=True)
class ServedItem:
    course: Course
    recommendation: Recommendation


@dataclass(frozen=True, slots=True)
class HomeResult:
    slate: Slate
    items: tuple[ServedItem, ...]
    #: the database was unreachable: served from memory, with the learner's history as this
    #: process last read it (or none), and nothing was recorded (the slate cannot be attributed)
    degraded: bool = False
    #: stored under its recommendation_id, so events may credit it
    recorded: bool = False
    #: degraded, and this process had not read the learner's history lately either: the list
    #: may offer courses they took
    history_unknown: bool = False


def pool_size(k: int) -> int:
    """Candidates asked of a strategy, so the ranking stage has room to demote and diversify."""
    return max(3 * k, 30)


class RecommendHome:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        strategies: StrategyRegistry,
        default_strategy: str = FALLBACK,
        policy: RankingPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        bandit: BanditService | None = None,
        recorder: SlateRecorder | None = None,
        histories: RecentHistories | None = None,
        reads: Callable[[], UnitOfWork] | None = None,
    ) -> None:
        self.uow_factory = uow_factory
        #: units of work for the history read, which writes nothing (fewer round trips)
        self.reads = reads or uow_factory
        self.strategies = strategies
        self.default_strategy = default_strategy
        self.policy = policy or RankingPolicy()
        self.clock = clock
        #: picks the strategy for "auto"
        self.bandit = bandit
        #: one per process, so that concurrent requests share a commit
        self.recorder = recorder or SlateRecorder(uow_factory)
        #: one per process too: a list answered while the database does not is made of them
        self.histories = histories or RecentHistories()

    def _resolve(self, query: RecommendHomeQuery) -> str:
        requested = query.strategy or self.default_strategy
        if requested == AUTO and self.bandit is not None:
            return AUTO  # chosen once the learner's history is read
        return self.strategies.validate(requested) if query.strategy else requested

    def _choose(
        self, bandit: BanditService, snapshot: Snapshot, history: LearnerHistory
    ) -> tuple[str, str]:
        """The bandit's arm among the strategies that can answer this learner: one that cannot
        would fall back to popularity whichever arm it is, and UCB1 and Thompson, which learn
        nothing of an arm never credited, would pick it again and again. When only one can (a
        new learner: popularity), there is no choice, and NO_CHOICE says so."""
        ready = [n for n, r in snapshot.recommenders.items() if r.ready]
        answering = [n for n in ready if snapshot.recommenders[n].answers(history)]
        arms = bandit.arms_among(answering or ready)
        return (arms[0], NO_CHOICE) if len(arms) == 1 else (bandit.choose(arms), BANDIT)

    def execute(self, query: RecommendHomeQuery) -> HomeResult:
        snapshot = self.strategies.snapshot()
        requested = self._resolve(query)  # an unknown strategy is refused first
        named = query.strategy or self.default_strategy
        if query.weights and named not in (HybridRecommender.name, AUTO):
            raise InvalidWeights(
                f"weights apply to the hybrid strategy only (or auto, when it picks the "
                f"hybrid), not to {named!r}; leave them out or ask for strategy=hybrid"
            )
        policy = replace(self.policy, strict_prerequisites=query.strict_prerequisites)
        degraded, mark, history_known = False, 0, True
        try:
            with self.reads() as uow:
                mark = self.recorder.mark(uow)  # first: an erasure after it, the slate is not kept
                # before the read too: an erasure learned of after it may be in the history
                era = self.recorder.era()
                history = uow.interactions.history(query.user_id)
            self.histories.keep(history, era)
        except StorageUnavailable:
            # what this process read of the learner lately, so the list still leaves out what
            # they took; else nothing, and the reasons say only what the catalog does
            recalled = self.histories.recall(query.user_id, self.recorder.era())
            history, degraded = recalled or LearnerHistory(query.user_id), True
            history_known = recalled is not None
        selected_by = "request" if query.strategy else "default"
        if requested == AUTO and self.bandit is not None:
            requested, selected_by = self._choose(self.bandit, snapshot, history)
        exclude = Excluded(
            history.taken(),
            snapshot.inactive,
            filtered_out(snapshot, query.category, query.level),
        )
        name = requested
        recommender = asked = with_weights(snapshot.recommenders.get(name), query.weights)
        candidates: list[Recommendation] = []
        ranked: list[Recommendation] = []
        now = self.clock()
        if recommender is not None and recommender.answers(history):
            candidates, ranked = ranked_candidates(
                recommender, history, snapshot.courses, query.k, exclude, policy, now
            )
        if not ranked and name != FALLBACK:
            # Unknown learners, untrained models and exhausted strategies get popular courses, as
            # do strategies whose every candidate the ranking stage removed (strict prerequisites):
            # said so, or analytics would credit them with popularity's list (the bandit does,
            # when it chose them: what its choice earned, fallback_from naming the choice).
            name = FALLBACK
            recommender = snapshot.recommenders[FALLBACK]
            candidates, ranked = ranked_candidates(
                recommender, history, snapshot.courses, query.k, exclude, policy, now
            )
            if not ranked:  # nothing left to offer (e.g. a narrow filter): not a fallback
                name, recommender = requested, asked
        items = _explained(
            recommender,  # type: ignore[arg-type]
            in_catalog(history, snapshot.courses),
            ranked,
        )
        if items and name != FALLBACK and len(items) < query.k:
            items += filled(snapshot, history, items, exclude, query.k, policy, now)
        # Over the whole list: a popular course completing it may be a prerequisite of one above.
        items = with_caveats(
            prerequisites_first(items, snapshot.courses, history),
            history,
            snapshot.courses,
            history_known,
        )
        slate = Slate(
            recommendation_id=RecommendationId(uuid.uuid4().hex),
            user_id=query.user_id,
            strategy=name,
            items=tuple(items),
            served_at=self.clock(),
            model_version=recommender.model_version if recommender else None,
            fallback_from=requested if name != requested else None,
            selected_by=selected_by,
        )
        # An empty list shows nothing: recorded, it would count as an impression-less
        # recommendation in analytics and as a bandit pull that could earn nothing.
        recorded = False
        if not degraded and query.record and items:
            try:
                self.recorder.record(slate, mark)
                recorded = True
            except StorageUnavailable:
                degraded = True
            except ErasedMeanwhile:
                pass  # answered as if served before the erasure; nothing of it is kept
        served = tuple(ServedItem(snapshot.courses[r.course_id], r) for r in items)
        return HomeResult(slate, served, degraded, recorded, not history_known)


def filled(
    snapshot: Snapshot,
    history: LearnerHistory,
    items: list[Recommendation],
    exclude: AbstractSet[CourseId],
    k: int,
    policy: RankingPolicy,
    now: datetime,
) -> list[Recommendation]:
    """Popular courses for the places a strategy could not fill (sequence, item_cf and content
    recommend only what the learner's history points to), ranked after its own `items`, with
    their reasons: a list is shorter than k only when nothing else may be recommended."""
    popularity = snapshot.recommenders[FALLBACK]
    left = exclude | {r.course_id for r in items}
    _, more = ranked_candidates(
        popularity, history, snapshot.courses, k - len(items), left, policy, now
    )
    return [replace(r, rank=len(items) + r.rank) for r in _explained(popularity, history, more)]


def ranked_candidates(
    recommender: Recommender,
    history: LearnerHistory,
    catalog: Mapping[CourseId, Course],
    k: int,
    exclude: AbstractSet[CourseId],
    policy: RankingPolicy,
    now: datetime,
) -> tuple[list[Recommendation], list[Recommendation]]:
    """The strategy's candidates for a list of `k`, and the k (or fewer) the ranking stage makes
    of them. pool_size(k) candidates, and twice as many again while the ranking stage removes so
    many of them (prerequisites not taken under strict_prerequisites, a path through an inactive
    course) that fewer than k are left and the strategy has more: a list is short only when
    nothing else may be recommended, not because the best-scored few could not be started."""
    size = pool_size(k)
    while True:
        candidates = recommender.recommend(history, size, exclude, explain=False)
        ranked = rerank(candidates, history, catalog, k, policy, now).items
        if len(ranked) >= k or len(candidates) < size:
            return candidates, ranked
        size *= 2


def in_catalog(history: LearnerHistory, catalog: Mapping[CourseId, Course]) -> LearnerHistory:
    """The learner's history as a reason may tell it: without the events of courses deleted from
    the catalog since the models were fitted (they still hold them), which a reason could only
    name by their bare id ("Because you looked at course_statistics_basic")."""
    if all(e.course_id in catalog for e in history.events):
        return history
    return LearnerHistory(
        history.user_id, tuple(e for e in history.events if e.course_id in catalog)
    )


def _explained(
    recommender: Recommender, learner: LearnerHistory, items: list[Recommendation]
) -> list[Recommendation]:
    """Reasons for the served items only (the ranking stage may have given some already)."""
    unexplained = [i for i, item in enumerate(items) if not item.reason]
    if not unexplained:
        return items
    explained = recommender.explain(learner, [items[i] for i in unexplained])
    for i, item in zip(unexplained, explained, strict=True):
        items[i] = item
    return items


R = TypeVar("R", bound=Recommender | None)


def with_weights(recommender: R, weights: Mapping[str, float] | None) -> R:
    """The hybrid with a request's own weights; any other strategy as it is."""
    if weights and isinstance(recommender, HybridRecommender):
        return recommender.with_weights(weights)  # type: ignore[return-value]
    return recommender


def filtered_out(
    snapshot: Snapshot, category: str | None, level: Level | None
) -> AbstractSet[CourseId]:
    """The courses a home request's category and level filters leave out."""
    if category is None and level is None:
        return frozenset()
    return snapshot.outside(category, level)
