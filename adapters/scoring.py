"""A base for recommenders that score the whole catalog with numpy, many learners at a time."""

from __future__ import annotations

import abc
from collections.abc import Collection, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import replace

import numpy as np

from adapters.arrays import courses_of, left_out, rows_in, rows_of
from domain.errors import StrategyUnavailable, UnknownCourse
from domain.model import Course, CourseId, Excluded, LearnerHistory, Outside, Recommendation
from domain.ports import Recommender

CHUNK = 512


def top_k(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the k highest finite scores, best first (ties broken by index)."""
    finite = np.flatnonzero(np.isfinite(scores))
    if finite.size == 0 or k <= 0:
        return []
    k = min(k, finite.size)
    values = scores[finite]
    best = np.argpartition(-values, k - 1)[:k]
    kth = values[best[k - 1]]
    # the courses tied with the k-th best take the places left in index order (which of them
    # argpartition itself keeps depends on the CPU's sorting kernel)
    above = best[values[best] > kth]
    tied = np.flatnonzero(values == kth)[: k - above.size]
    candidates = finite[np.concatenate([above, tied])]
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order].tolist()


class ScoringRecommender(Recommender):
    """Subclasses fill `scores` for a batch of learners; ranking, exclusion and batching live here."""

    courses: list[Course]
    index: dict[CourseId, int]

    def index_catalog(self, courses: Sequence[Course]) -> None:
        self.courses = list(courses)
        self.index = {c.course_id: i for i, c in enumerate(self.courses)}
        #: id(shared set) -> (that set, its rows): see rows()
        self._kept: dict[int, tuple[AbstractSet[CourseId], np.ndarray]] = {}
        #: a catalog and the rows of its courses (a filter's Outside leaves out some of them)
        self._in_catalog: tuple[Collection[CourseId], np.ndarray] | None = None

    def restore_catalog(
        self, course_ids: Sequence[CourseId], catalog: Mapping[CourseId, Course]
    ) -> None:
        """The rows of a published state, named by the catalog as it is now (and which of them
        it holds, worked out here, off the request path)."""
        self.index_catalog(courses_of(course_ids, catalog))
        self._catalog_rows(catalog)

    def rows(self, course_ids: Iterable[CourseId]) -> np.ndarray:
        """The rows of the courses this strategy holds among `course_ids`. Those of an Excluded's
        shared sets are kept from request to request: a narrow filter over 10,000 courses
        leaves out thousands, which cost a millisecond or two to look up one by one."""
        if not isinstance(course_ids, Excluded) or not course_ids.shared:
            return self._rows(course_ids)
        own = self._rows(course_ids.own)  # not the whole set less the shared: a walk of it
        return np.concatenate([own, *map(self._shared_rows, course_ids.shared)])

    def _rows(self, course_ids: Iterable[CourseId]) -> np.ndarray:
        return rows_of(self.index, course_ids)

    def _shared_rows(self, shared: AbstractSet[CourseId]) -> np.ndarray:
        kept = self._kept.get(id(shared))
        if kept is None or kept[0] is not shared:  # an id is reused once its set is gone
            if len(self._kept) >= 64:  # sets of snapshots since replaced
                self._kept.clear()
            rows = self._outside(shared) if isinstance(shared, Outside) else self._rows(shared)
            kept = self._kept[id(shared)] = (shared, rows)
        return kept[1]

    def _outside(self, outside: Outside) -> np.ndarray:
        """The rows of what a filter leaves out, from the few courses it keeps: the rows of the
        catalog's courses but theirs."""
        in_catalog = self._catalog_rows(outside.catalog)
        return np.flatnonzero(left_out(len(self.courses), in_catalog, self._rows(outside.kept)))

    def _catalog_rows(self, catalog: Collection[CourseId]) -> np.ndarray:
        """The rows of this strategy's courses that `catalog` holds (kept for one catalog)."""
        if self._in_catalog is None or self._in_catalog[0] is not catalog:
            self._in_catalog = (catalog, rows_in([c.course_id for c in self.courses], catalog))
        return self._in_catalog[1]

    @abc.abstractmethod
    def scores(self, learners: Sequence[LearnerHistory]) -> np.ndarray:
        """(len(learners), len(courses)) scores; -inf marks a course not to recommend."""

    @abc.abstractmethod
    def reason(self, learner: LearnerHistory, row: int) -> str:
        """Why course `row` suits this learner, in a learner's words."""

    def reasons(self, learner: LearnerHistory, rows: Sequence[int]) -> list[str]:
        """reason() for each row; strategies with a cheaper batched form override this."""
        return [self.reason(learner, row) for row in rows]

    def plain_reason(self, learner: LearnerHistory, row: int) -> str:
        """What is true of course `row` for this learner when nothing they did points to it:
        that they touched it before, or that it is new to them (claiming more would be false)."""
        course = self.courses[row]
        event = learner.strongest().get(course.course_id)
        if event is not None:
            return f"You {event.past_tense} this course before"
        return f"{a_course_in(course.category)}, new to you"

    def explain(
        self, learner: LearnerHistory, items: Sequence[Recommendation]
    ) -> list[Recommendation]:
        said = self.reasons(learner, [self.index[item.course_id] for item in items])
        return [replace(item, reason=reason) for item, reason in zip(items, said, strict=True)]

    def similarity(self, source: int) -> np.ndarray:
        """How alike every course is to course `source`; -inf for courses not to show."""
        raise StrategyUnavailable(f"{self.name} does not find similar courses")

    def similar_reason(self, source: int, row: int) -> str:
        return f"Similar to {self.courses[source].title}"

    def similar_reasons(self, source: int, rows: Sequence[int]) -> list[str]:
        """similar_reason() for each row; strategies with a cheaper batched form override this."""
        return [self.similar_reason(source, row) for row in rows]

    def similar(
        self, course_id: CourseId, k: int, exclude: AbstractSet[CourseId] = frozenset()
    ) -> list[Recommendation]:
        if course_id not in self.index:
            raise UnknownCourse(course_id)
        source = self.index[course_id]
        scores = np.array(self.similarity(source), dtype=float)
        scores[self.rows(exclude)] = -np.inf
        scores[source] = -np.inf
        best = self.closest(source, scores, k)
        said = self.similar_reasons(source, best)
        return [
            Recommendation(self.courses[i].course_id, float(scores[i]), rank, self.name, why)
            for rank, (i, why) in enumerate(zip(best, said, strict=True), start=1)
        ]

    def closest(self, source: int, scores: np.ndarray, k: int) -> list[int]:
        """The rows of the k courses most similar to `source` by `scores`."""
        return top_k(scores, k)

    def scored(
        self, learner: LearnerHistory, k: int, exclude: AbstractSet[CourseId] = frozenset()
    ) -> list[tuple[CourseId, float]]:
        scores = np.array(self.scores([learner]), dtype=float)[0]
        scores[self.rows(exclude)] = -np.inf
        best = top_k(scores, k)
        ids = [self.courses[i].course_id for i in best]
        return list(zip(ids, scores[best].tolist(), strict=True))

    def recommend(
        self,
        learner: LearnerHistory,
        k: int,
        exclude: AbstractSet[CourseId] = frozenset(),
        explain: bool = True,
    ) -> list[Recommendation]:
        items = [
            Recommendation(course_id, score, rank, self.name)
            for rank, (course_id, score) in enumerate(self.scored(learner, k, exclude), start=1)
        ]
        return self.explain(learner, items) if explain else items

    def recommend_many(
        self,
        learners: Sequence[LearnerHistory],
        k: int,
        excludes: Sequence[AbstractSet[CourseId]],
        explain: bool = True,
    ) -> list[list[Recommendation]]:
        result: list[list[Recommendation]] = []
        for start in range(0, len(learners), CHUNK):
            chunk = learners[start : start + CHUNK]
            scores = np.array(self.scores(chunk), dtype=float)
            for row, exclude in enumerate(excludes[start : start + CHUNK]):
                scores[row, self.rows(exclude)] = -np.inf
            for learner, row_scores in zip(chunk, scores, strict=True):
                best = top_k(row_scores, k)
                said = self.reasons(learner, best) if explain else [""] * len(best)
                # One conversion of the k scores to Python floats, not one numpy scalar each
                # (a hybrid request asks three components for 100 candidates).
                values = row_scores[best].tolist()
                result.append(
                    [
                        Recommendation(self.courses[i].course_id, value, rank, self.name, why)
                        for rank, (i, value, why) in enumerate(
                            zip(best, values, said, strict=True), start=1
                        )
                    ]
                )
        return result


def a_course_in(category: str) -> str:
    """ "A course in Data Science", or "A course" (no article depends on the category's name)."""
    return f"A course in {category}" if category else "A course"
