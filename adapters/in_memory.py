"""In-memory storage: the local-experimentation backend and the unit-test fakes at once."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime

from application.ports import (
    CoursePopularity,
    CourseRepository,
    DailyStats,
    InteractionRepository,
    SlateOutcome,
    SlateRepository,
    StatsRepository,
    UnitOfWork,
    UserStats,
)
from domain.model import (
    Course,
    CourseId,
    EventType,
    Interaction,
    LearnerHistory,
    RecommendationId,
    Slate,
    UserId,
)


class InMemoryStore:
    """The committed state, shared by every unit of work made from it."""

    def __init__(self) -> None:
        self.courses: dict[CourseId, Course] = {}
        self.events: dict[str, Interaction] = {}
        self.slates: dict[RecommendationId, Slate] = {}
        self.catalog_changes = 0
        self.lock = threading.RLock()

    def copy(self) -> InMemoryStore:
        twin = InMemoryStore()
        twin.publish(self)
        return twin

    def publish(self, other: InMemoryStore) -> None:
        self.courses = dict(other.courses)
        self.events = dict(other.events)
        self.slates = dict(other.slates)
        self.catalog_changes = other.catalog_changes


class InMemoryCourseRepository(CourseRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self.store = store

    def get(self, course_id: CourseId) -> Course | None:
        return self.store.courses.get(course_id)

    def page(self, limit: int, offset: int) -> list[Course]:
        return self.all()[offset : offset + limit]

    def count(self) -> int:
        return len(self.store.courses)

    def all(self) -> list[Course]:
        return [self.store.courses[c] for c in sorted(self.store.courses)]

    def upsert(self, courses: Sequence[Course]) -> None:
        for course in courses:
            self.store.courses[course.course_id] = course
        self.store.catalog_changes += 1

    def existing(self, course_ids: Iterable[CourseId]) -> set[CourseId]:
        return {c for c in course_ids if c in self.store.courses}

    def version(self) -> str:
        return f"{len(self.store.courses)}:{self.store.catalog_changes}"


class InMemoryInteractionRepository(InteractionRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self.store = store

    def add_batch(self, events: Sequence[Interaction]) -> int:
        new = 0
        for event in events:
            if event.event_id not in self.store.events:
                self.store.events[event.event_id] = event
                new += 1
        return new

    def stored(self, event_ids: Iterable[str]) -> dict[str, Interaction]:
        return {i: self.store.events[i] for i in set(event_ids) if i in self.store.events}

    def _ordered(self) -> list[Interaction]:
        return sorted(self.store.events.values(), key=lambda e: e.occurred_at)

    def history(self, user_id: UserId) -> LearnerHistory:
        return LearnerHistory(user_id, tuple(e for e in self._ordered() if e.user_id == user_id))

    def stream(self, batch_size: int = 10_000) -> Iterator[Interaction]:
        yield from self._ordered()

    def count(self) -> int:
        return len(self.store.events)

    def version(self) -> str:
        return str(len(self.store.events))


class InMemorySlateRepository(SlateRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self.store = store

    def add(self, slate: Slate) -> None:
        self.store.slates[slate.recommendation_id] = slate

    def get(self, recommendation_id: RecommendationId) -> Slate | None:
        return self.store.slates.get(recommendation_id)

    def existing(self, ids: Iterable[RecommendationId]) -> set[RecommendationId]:
        return {i for i in ids if i in self.store.slates}

    def outcomes(self, after: datetime, until: datetime) -> list[SlateOutcome]:
        found = []
        for slate in sorted(self.store.slates.values(), key=lambda s: s.served_at):
            if not after < slate.served_at <= until:
                continue
            events = [
                e
                for e in self.store.events.values()
                if e.recommendation_id == slate.recommendation_id
            ]
            best = max((e.event_type for e in events), key=lambda t: t.strength, default=None)
            found.append(
                SlateOutcome(
                    slate.recommendation_id,
                    slate.strategy,
                    slate.served_at,
                    best,
                    len(events),
                    slate.selected_by,
                    slate.fallback_from,
                )
            )
        return found


class InMemoryStatsRepository(StatsRepository):
    """The same aggregates as the SQL repository, computed in Python (small data only)."""

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store

    def user(self, user_id: UserId) -> UserStats:
        mine = [s for s in self.store.slates.values() if s.user_id == user_id]
        events = [e for e in self.store.events.values() if e.user_id == user_id]
        attributed = [e for e in events if e.recommendation_id]
        categories = Counter(
            self.store.courses[e.course_id].category
            for e in events
            if e.course_id in self.store.courses
        )
        return UserStats(
            user_id,
            len(mine),
            sum(len(s.items) for s in mine),
            sum(1 for e in attributed if e.event_type is EventType.CLICK),
            sum(1 for e in attributed if e.event_type is EventType.ENROLL),
            sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))[:5],
        )

    def daily(self, since: datetime) -> list[DailyStats]:
        rows: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for slate in self.store.slates.values():
            if slate.served_at >= since:
                row = rows[(slate.served_at.astimezone(UTC).strftime("%Y-%m-%d"), slate.strategy)]
                row[0] += 1
                row[1] += len(slate.items)
        for event in self.store.events.values():
            slate = (
                self.store.slates.get(event.recommendation_id) if event.recommendation_id else None
            )
            if slate is None or event.occurred_at < since:
                continue
            row = rows[(event.occurred_at.astimezone(UTC).strftime("%Y-%m-%d"), slate.strategy)]
            row[2] += event.event_type is EventType.CLICK
            row[3] += event.event_type is EventType.ENROLL
        return [DailyStats(d, s, *counts) for (d, s), counts in sorted(rows.items())]

    def popular_courses(self, since: datetime, limit: int) -> list[CoursePopularity]:
        counts: dict[CourseId, list[int]] = defaultdict(lambda: [0, 0])
        for event in self.store.events.values():
            if event.occurred_at >= since and event.course_id in self.store.courses:
                if event.event_type is EventType.ENROLL:
                    counts[event.course_id][0] += 1
                elif event.event_type is EventType.CLICK:
                    counts[event.course_id][1] += 1
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))[:limit]
        return [CoursePopularity(c, self.store.courses[c].title, e, k) for c, (e, k) in ranked]


class InMemoryUnitOfWork(UnitOfWork):
    """Works on a private copy of the store; commit publishes it, anything else discards it."""

    def __init__(self, store: InMemoryStore) -> None:
        self.committed = store

    def __enter__(self) -> InMemoryUnitOfWork:
        self.committed.lock.acquire()
        self._begin()
        return self

    def __exit__(self, *args: object) -> None:
        self.committed.lock.release()

    def _begin(self) -> None:
        self.working = self.committed.copy()
        self.courses = InMemoryCourseRepository(self.working)
        self.interactions = InMemoryInteractionRepository(self.working)
        self.slates = InMemorySlateRepository(self.working)
        self.stats = InMemoryStatsRepository(self.working)

    def commit(self) -> None:
        self.committed.publish(self.working)
        self._begin()

    def rollback(self) -> None:
        self._begin()

    def ping(self) -> None:
        pass  # memory is always reachable
