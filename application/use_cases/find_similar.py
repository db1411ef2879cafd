"""FindSimilar: courses like a given course, from one strategy."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace

from application.strategies import Snapshot, StrategyRegistry
from application.use_cases.recommend_home import ServedItem, pool_size
from domain.errors import InvalidStrategy, UnknownCourse
from domain.model import CourseId, Excluded, Recommendation
from domain.ports import Recommender

DEFAULT_SIMILAR_STRATEGY = "content"
#: completes a list another strategy leaves short
COMPLETING = "content"


@dataclass(frozen=True, slots=True)
class FindSimilarQuery:
    course_id: CourseId
    k: int = 10
    strategy: str | None = None


@dataclass(frozen=True, slots=True)
class SimilarResult:
    course_id: CourseId
    strategy: str
    items: tuple[ServedItem, ...]
    #: the strategy asked for, when it could not answer (no model published yet)
    fallback_from: str | None = None
    #: the published version that answered (model strategies)
    model_version: str | None = None


class FindSimilar:
    def __init__(
        self, strategies: StrategyRegistry, default_strategy: str = DEFAULT_SIMILAR_STRATEGY
    ) -> None:
        self.strategies = strategies
        self.default_strategy = default_strategy

    def execute(self, query: FindSimilarQuery) -> SimilarResult:
        name = query.strategy or self.default_strategy
        snapshot = self.strategies.snapshot_knowing(query.course_id)
        if name not in snapshot.recommenders:  # e.g. "auto": a choice for home pages only
            not_for = "similar courses" if name in self.strategies.names else ""
            raise InvalidStrategy(name, sorted(snapshot.recommenders), not_for)
        if query.course_id not in snapshot.courses:
            raise UnknownCourse(query.course_id)
        asked, recommender = name, snapshot.recommenders[name]
        if not recommender.ready:
            name, recommender = "popularity", snapshot.recommenders["popularity"]
        items = _known(recommender, query, snapshot)
        if len(items) < query.k and name != COMPLETING and COMPLETING in snapshot.recommenders:
            items += _completed(snapshot.recommenders[COMPLETING], query, snapshot, items)
        return SimilarResult(
            query.course_id,
            name,
            tuple(ServedItem(snapshot.courses[r.course_id], r) for r in items),
            asked if name != asked else None,
            recommender.model_version,
        )


def _known(
    recommender: Recommender,
    query: FindSimilarQuery,
    snapshot: Snapshot,
    exclude: AbstractSet[CourseId] = frozenset(),
) -> list[Recommendation]:
    """_in_catalog(), or none for a course in the catalog but newer than the published model:
    nothing is known of it until the trainer's next fit (a 404 would say it does not exist)."""
    if not recommender.ready:
        return []
    try:
        return _in_catalog(recommender, query, snapshot, exclude)
    except UnknownCourse:
        return []


def _completed(
    content: Recommender,
    query: FindSimilarQuery,
    snapshot: Snapshot,
    items: list[Recommendation],
) -> list[Recommendation]:
    """The places a strategy could not fill (item_cf and sequence link only courses taken with
    it), filled with the courses of the same category that content finds closest, ranked after
    its own and explained by what they share. Only the category's: content's own list goes on to
    courses that merely share a word ("A course in Arts" beside Python Basics), which a list of
    similar courses completed in the strategy's name must not show."""
    category = snapshot.courses[query.course_id].category
    if not category:  # no category to share: nothing may complete the list
        return []
    # content's closest courses, as many as a home request asks of a strategy, and of those the
    # category's: one call, whatever the catalog's size (leaving every other category's courses
    # out by id cost 8-10 ms at 10,000 courses)
    found = _known(
        content,
        replace(query, k=pool_size(query.k)),
        snapshot,
        frozenset(r.course_id for r in items),
    )
    kept = [r for r in found if snapshot.courses[r.course_id].category == category]
    return [
        replace(r, rank=len(items) + rank)
        for rank, r in enumerate(kept[: query.k - len(items)], start=1)
    ]


def _in_catalog(
    recommender: Recommender,
    query: FindSimilarQuery,
    snapshot: Snapshot,
    exclude: AbstractSet[CourseId] = frozenset(),
) -> list[Recommendation]:
    """The k most similar courses the catalog offers: none inactive, none that needs a course
    no longer offered first (the list has no learner who might have taken it; home lists them
    to those who did), and none gone from the catalog since the model was fitted (a row deleted
    from the courses table), which the model still holds and the catalog can no longer name or
    show."""
    exclude = Excluded(exclude, snapshot.inactive, snapshot.closed_to_newcomers)
    while True:
        items = recommender.similar(query.course_id, query.k, exclude)
        gone = {r.course_id for r in items} - snapshot.ids
        if not gone:
            return items
        exclude |= gone
