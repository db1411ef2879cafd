"""Popularity: event counts weighted by type, decayed by age (half-life in days)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from adapters.arrays import array, ids, ids_file, npy
from adapters.scoring import ScoringRecommender, a_course_in
from application.ports import UnitOfWork
from domain.model import (
    DEFAULT_EVENT_WEIGHTS,
    Course,
    CourseId,
    EventType,
    Interaction,
    LearnerHistory,
)
from domain.ports import Published


class PopularityRecommender(ScoringRecommender):
    name = "popularity"
    personalised = False

    def __init__(
        self,
        half_life_days: float | None = 30.0,
        event_weights: Mapping[EventType, float] = DEFAULT_EVENT_WEIGHTS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.half_life_days = half_life_days or None
        self.event_weights = dict(event_weights)
        self.clock = clock
        self.index_catalog([])
        self.popularity = np.zeros(0)
        #: per course, whether it is popular in its category (see _leading)
        self.leading = np.zeros(0, dtype=bool)
        #: per course, when its newest event happened (POSIX seconds; -inf: none), or None
        #: (a model published before 2026-11-29): time words only for courses with recent events
        self.newest: np.ndarray | None = None

    def fit(self, courses: Sequence[Course], interactions: Sequence[Interaction]) -> None:
        self.index_catalog(courses)
        popularity = np.zeros(len(self.courses))
        known = [e for e in interactions if e.course_id in self.index]
        self.newest = np.full(len(self.courses), -np.inf)
        if known:
            rows = np.fromiter((self.index[e.course_id] for e in known), dtype=np.int64)
            weights = np.fromiter((self.event_weights[e.event_type] for e in known), dtype=float)
            stamps = np.fromiter((e.occurred_at.timestamp() for e in known), dtype=float)
            np.maximum.at(self.newest, rows, stamps)
            if self.half_life_days:
                # Ages count from the newest event, so an old data set does not underflow.
                age_days = (stamps.max() - stamps) / 86_400.0
                weights = weights * np.exp2(-age_days / self.half_life_days)
            np.add.at(popularity, rows, weights)
        self.popularity = popularity
        self.leading = self._leading()

    def index_catalog(self, courses: Sequence[Course]) -> None:
        super().index_catalog(courses)
        codes: dict[str, int] = {}  # categories as integers, so similar() compares arrays
        self.category_codes = np.fromiter(
            (codes.setdefault(c.category, len(codes)) for c in self.courses),
            dtype=np.int64,
            count=len(self.courses),
        )

    def dump(self) -> Published:
        files = {
            "course_ids.json": ids_file([c.course_id for c in self.courses]),
            "popularity.npy": npy(self.popularity),
            **({"newest.npy": npy(self.newest)} if self.newest is not None else {}),
        }
        return files, {"half_life_days": self.half_life_days, "courses": len(self.courses)}

    def restore(
        self,
        files: Mapping[str, bytes],
        manifest: Mapping[str, Any],
        catalog: Mapping[CourseId, Course],
    ) -> None:
        course_ids, popularity = ids(files), array(files, "popularity.npy")
        if popularity.shape != (len(course_ids),):
            raise ValueError(f"{len(popularity)} popularity values for {len(course_ids)} courses")
        self.restore_catalog(course_ids, catalog)
        self.popularity = popularity.astype(float)
        self.leading = self._leading()
        half_life = manifest.get("half_life_days")
        self.half_life_days = float(half_life) if isinstance(half_life, int | float) else None
        self.newest = None  # published before 2026-11-29: no time words
        if "newest.npy" in files:
            newest = array(files, "newest.npy")
            if newest.shape != (len(course_ids),):
                raise ValueError(f"{len(newest)} newest-event times for {len(course_ids)} courses")
            self.newest = newest.astype(float)

    def period(self, row: int) -> str:
        """ " lately" for a course whose newest event is at most a half-life old: the ranking
        weighs recent events most (halving each one's weight every half-life), which "lately"
        says and "this month" would not: that claims a count over the month, and a course with
        a large following before it ranks above one taken more within it. For a course with only
        old events, or on old or imported data, even "lately" would be false."""
        if self.half_life_days is None or self.newest is None:
            return ""
        if self.clock().timestamp() - self.newest[row] > self.half_life_days * 86_400.0:
            return ""
        return " lately"

    def _leading(self) -> np.ndarray:
        """Whether each course is popular in its category: at least as popular as the median of
        the courses of its category that have events (of the catalog's, for a course without a
        category, or the only one of its category with events: compared with itself alone, one
        view would make it popular). A list that has run out of those (a narrow filter, a
        learner who took them) goes on with courses it would be false to call popular. Computed
        once per model, not per request."""
        leading = np.zeros(len(self.courses), dtype=bool)
        tried = self.popularity > 0
        blank = np.fromiter((not c.category for c in self.courses), bool, len(self.courses))
        catalog_median = np.median(self.popularity[tried]) if tried.any() else 0.0
        for code in np.unique(self.category_codes[tried & ~blank]):
            members = tried & (self.category_codes == code)
            median = np.median(self.popularity[members]) if members.sum() > 1 else catalog_median
            leading[members] = self.popularity[members] >= median
        if (tried & blank).any():
            # said "Popular in our catalog": the more popular half of the whole catalog's, not of
            # the few courses that have no category
            members = tried & blank
            leading[members] = self.popularity[members] >= catalog_median
        return leading

    def scores(self, learners: Sequence[LearnerHistory]) -> np.ndarray:
        return np.broadcast_to(self.popularity, (len(learners), len(self.courses)))

    def reason(self, learner: LearnerHistory, row: int) -> str:
        return self._said(row)

    def _said(self, row: int) -> str:
        """What is true of course `row`, whoever asks: popular in its category, tried by
        learners, or tried by few."""
        if self.popularity[row] <= 0:
            return self._untried(row)
        category = self.courses[row].category
        if not self.leading[row]:
            return f"{a_course_in(category)}, which learners have tried{self.period(row)}"
        return f"Popular in {category or 'our catalog'}{self.period(row)}"

    def _untried(self, row: int) -> str:
        """A course without a single event when fitted fills a list only once the popular ones
        ran out: calling it popular would be false. "Few", not "nobody": learners (this one,
        too) may have tried it since."""
        category = self.courses[row].category
        return f"{a_course_in(category)}, which few learners have tried yet"

    def similarity(self, source: int) -> np.ndarray:
        """Popularity, with the source's category ahead of the rest of the catalog, scaled to
        0..1 like the other strategies' similarities (not raw event counts)."""
        same = self.category_codes == self.category_codes[source]
        ranked = self.popularity + np.where(same, self.popularity.max() + 1.0, 0.0)
        return ranked / ranked.max()

    def similar_reason(self, source: int, row: int) -> str:
        """ "Like X" only for a course sharing X's category: two courses without one share
        nothing a learner could see ("Also in our catalog, like X" was true of any course), so
        they are told what is true of the course alone, how learners took to it."""
        course = self.courses[source]
        if not course.category or self.courses[row].category != course.category:
            return self._said(row)
        if self.popularity[row] <= 0 or not self.leading[row]:
            return f"Also in {course.category}, like {course.title}"
        return f"Popular in {course.category}{self.period(row)}, like {course.title}"


def live_popularity(uow: UnitOfWork, catalog: Mapping[CourseId, Course]) -> PopularityRecommender:
    """Popularity summed by the database, for workers while no popularity is published yet."""
    counts = uow.interactions.popularity(DEFAULT_EVENT_WEIGHTS)
    recommender = PopularityRecommender(half_life_days=None)
    recommender.index_catalog(list(catalog.values()))
    recommender.popularity = np.fromiter(
        (counts.get(c.course_id, 0.0) for c in recommender.courses),
        dtype=float,
        count=len(recommender.courses),
    )
    recommender.leading = recommender._leading()
    return recommender
