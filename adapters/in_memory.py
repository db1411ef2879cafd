"""In-memory storage: the local-experimentation backend and the unit-test fakes at once."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from application.ports import (
    AdminSessionRepository,
    CoursePopularity,
    CourseRepository,
    CredentialFailureRepository,
    DailyStats,
    Erasure,
    ErasureRepository,
    FitTurn,
    InteractionRepository,
    Job,
    JobRepository,
    LatestErasure,
    Shown,
    SlateOutcome,
    SlateRepository,
    StatementRecord,
    StatementRepository,
    StatsRepository,
    TrainerBeat,
    TrainerRepository,
    UnitOfWork,
    UserStats,
    erased_counts,
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
        self.jobs: dict[str, Job] = {}
        self.trainers: dict[str, TrainerBeat] = {}
        self.statements: dict[str, StatementRecord] = {}
        self.erasures: list[Erasure] = []
        #: session hash -> (expires_at, revoked_at)
        self.admin_sessions: dict[str, tuple[datetime, datetime | None]] = {}
        self.credential_failures: list[tuple[str, datetime]] = []  # (client, failed_at)
        self.catalog_changes = 0
        self.event_removals = 0
        self.lock = threading.RLock()
        #: the fitting turn of the trainers sharing this store (InMemoryFitTurn)
        self.fit_turn = threading.Lock()

    def copy(self) -> InMemoryStore:
        twin = InMemoryStore()
        twin.publish(self)
        return twin

    def publish(self, other: InMemoryStore) -> None:
        self.courses = dict(other.courses)
        self.events = dict(other.events)
        self.slates = dict(other.slates)
        self.jobs = dict(other.jobs)
        self.trainers = dict(other.trainers)
        self.statements = dict(other.statements)
        self.erasures = list(other.erasures)
        self.admin_sessions = dict(other.admin_sessions)
        self.credential_failures = list(other.credential_failures)
        self.catalog_changes = other.catalog_changes
        self.event_removals = other.event_removals


class InMemoryCourseRepository(CourseRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self.store = store

    def get(self, course_id: CourseId) -> Course | None:
        return self.store.courses.get(course_id)

    def hold(self) -> None:
        pass  # a unit of work holds the whole store's lock already

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

    def stored(self, course_ids: Iterable[CourseId]) -> dict[CourseId, Course]:
        return {c: self.store.courses[c] for c in set(course_ids) if c in self.store.courses}

    def required_by(self, course_ids: Iterable[CourseId]) -> dict[CourseId, list[CourseId]]:
        wanted = set(course_ids)
        found: dict[CourseId, list[CourseId]] = {}
        for course in self.all():
            for prerequisite in course.prerequisites if course.active else ():
                if prerequisite in wanted:
                    found.setdefault(prerequisite, []).append(course.course_id)
        return found

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
        return f"{len(self.store.events)}:{self.store.event_removals}"

    def remove(self, event_ids: Iterable[str]) -> int:
        removed = sum(self.store.events.pop(e, None) is not None for e in set(event_ids))
        self.store.event_removals += removed
        return removed

    def miscredited(self, clear: bool = False, max_clock_skew: timedelta = timedelta(0)) -> int:
        wrong = [
            e
            for e in self.store.events.values()
            if e.recommendation_id
            and not _earned(self.store.slates.get(e.recommendation_id), e, max_clock_skew)
        ]
        for event in wrong if clear else ():
            self.store.events[event.event_id] = replace(event, recommendation_id=None)
        return len(wrong)

    def popularity(self, weights: Mapping[EventType, float]) -> dict[CourseId, float]:
        totals: dict[CourseId, float] = defaultdict(float)
        for event in self.store.events.values():
            totals[event.course_id] += weights[event.event_type]
        return dict(totals)


class InMemorySlateRepository(SlateRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self.store = store

    def add(self, slate: Slate) -> None:
        self.store.slates[slate.recommendation_id] = slate

    def now(self) -> datetime:
        return _now()

    def get(self, recommendation_id: RecommendationId) -> Slate | None:
        return self.store.slates.get(recommendation_id)

    def existing(self, ids: Iterable[RecommendationId]) -> set[RecommendationId]:
        return {i for i in ids if i in self.store.slates}

    def any_named(self, prefix: str) -> bool:
        named = (e.recommendation_id for e in self.store.events.values())
        return any(i.startswith(prefix) for i in (*self.store.slates, *filter(None, named)))

    def shown(self, ids: Iterable[RecommendationId]) -> dict[RecommendationId, Shown]:
        found = (self.store.slates[i] for i in set(ids) if i in self.store.slates)
        return {
            s.recommendation_id: Shown(
                s.user_id, frozenset(r.course_id for r in s.items), s.served_at
            )
            for s in found
        }

    def outcomes(
        self, after: datetime, until: datetime, selected_by: str | None = None
    ) -> list[SlateOutcome]:
        found = []
        for slate in sorted(self.store.slates.values(), key=lambda s: s.served_at):
            if not after < slate.served_at <= until or not slate.items:
                continue
            if selected_by is not None and slate.selected_by != selected_by:
                continue
            events = [
                e
                for e in self.store.events.values()
                if e.recommendation_id == slate.recommendation_id and _shown(slate, e)
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
        mine = [s for s in self.store.slates.values() if s.user_id == user_id and s.items]
        events = [e for e in self.store.events.values() if e.user_id == user_id]
        credited = [enrolled for slate, enrolled in self._credited() if slate.user_id == user_id]
        categories = Counter(
            self.store.courses[e.course_id].category
            for e in events
            if e.course_id in self.store.courses and self.store.courses[e.course_id].category
        )
        return UserStats(
            user_id,
            len(mine),
            sum(len(s.items) for s in mine),
            len(credited),
            sum(credited),
            sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))[:5],
        )

    def _credited(self) -> list[tuple[Slate, bool]]:
        """Each course of a served list its learner clicked or enrolled in (a click-through),
        once, with whether they enrolled."""
        enrolled: dict[tuple[str, CourseId], bool] = {}
        for e in self.store.events.values():
            if (
                e.recommendation_id
                and e.event_type in (EventType.CLICK, EventType.ENROLL)
                and _shown(self.store.slates.get(e.recommendation_id), e)
            ):
                key = (e.recommendation_id, e.course_id)
                enrolled[key] = enrolled.get(key, False) or e.event_type is EventType.ENROLL
        return [(self.store.slates[r], did) for (r, _), did in enrolled.items()]

    def daily(self, since: datetime) -> list[DailyStats]:
        rows: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for slate in self.store.slates.values():
            if slate.served_at >= since and slate.items:
                row = rows[(slate.served_at.astimezone(UTC).strftime("%Y-%m-%d"), slate.strategy)]
                row[0] += 1
                row[1] += len(slate.items)
        for slate, enrolled in self._credited():
            if slate.served_at >= since:
                row = rows[(slate.served_at.astimezone(UTC).strftime("%Y-%m-%d"), slate.strategy)]
                row[2] += 1
                row[3] += enrolled
        return [DailyStats(d, s, *counts) for (d, s), counts in sorted(rows.items())]

    def days_to_store(self) -> list[date]:
        return []  # daily() counts from the lists in memory, as fast as it would read figures

    def store_day(self, day: date) -> None:
        raise ValueError(f"{day}: the in-memory store stores no daily figures")

    def days_to_prune(self, before: date) -> list[date]:
        return []  # no figures stored: its lists are what every window counts from

    def prune_day(self, day: date) -> int:
        raise ValueError(f"{day}: the in-memory store keeps its lists (no figures stored)")

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


class InMemoryTrainerRepository(TrainerRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self.store = store

    def beat(self, beat: TrainerBeat, forget_before: datetime) -> None:
        self.store.trainers[beat.worker] = beat
        for worker, seen in list(self.store.trainers.items()):
            if seen.seen_at < forget_before:
                del self.store.trainers[worker]

    def recent(self, since: datetime, limit: int | None = None) -> list[TrainerBeat]:
        seen = [b for b in self.store.trainers.values() if b.seen_at >= since]
        return sorted(seen, key=lambda b: (-b.seen_at.timestamp(), b.worker))[:limit]


class InMemoryAdminSessionRepository(AdminSessionRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self.store = store

    def open(self, session_hash: str, created_at: datetime, expires_at: datetime) -> None:
        sessions = self.store.admin_sessions
        self.store.admin_sessions = {h: s for h, s in sessions.items() if s[0] > created_at}
        self.store.admin_sessions[session_hash] = (expires_at, None)

    def active(self, session_hash: str, now: datetime) -> bool:
        expires_at, revoked_at = self.store.admin_sessions.get(session_hash, (now, None))
        return revoked_at is None and expires_at > now

    def revoke(self, session_hash: str, now: datetime) -> None:
        found = self.store.admin_sessions.get(session_hash)
        if found is not None and found[1] is None:
            self.store.admin_sessions[session_hash] = (found[0], now)


class InMemoryCredentialFailureRepository(CredentialFailureRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self.store = store

    def recent(self, client: str, since: datetime, limit: int) -> list[datetime]:
        failures = self.store.credential_failures
        return sorted((t for c, t in failures if c == client and t > since), reverse=True)[:limit]

    def add(self, client: str, at: datetime, forget_before: datetime) -> None:
        kept = [(c, t) for c, t in self.store.credential_failures if t >= forget_before]
        self.store.credential_failures = [*kept, (client, at)]


class InMemoryJobRepository(JobRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self.store = store

    def submit(self, job: Job) -> bool:
        active = {j.kind for j in self.store.jobs.values() if j.status in ("queued", "running")}
        if job.kind in active:
            return False
        self.store.jobs[job.job_id] = dataclasses.replace(job, status="queued")
        return True

    def claim(self, kinds: Sequence[str], worker: str) -> Job | None:
        queued = [j for j in self.store.jobs.values() if j.status == "queued" and j.kind in kinds]
        if not queued:
            return None
        job = min(queued, key=lambda j: j.submitted_at)
        now = _now()
        claimed = dataclasses.replace(
            job,
            status="running",
            started_at=now,
            heartbeat_at=now,
            worker=worker,
            attempts=job.attempts + 1,
        )
        self.store.jobs[job.job_id] = claimed
        return claimed

    def heartbeat(self, run: Job) -> bool:
        return self._update_run(run, None, heartbeat_at=_now())

    def finish(
        self,
        run: Job,
        result: Mapping[str, Any] | None = None,
        error: str | None = None,
        silent_for: timedelta | None = None,
    ) -> bool:
        return self._update_run(
            run,
            silent_for,
            status="failed" if error else "succeeded",
            finished_at=_now(),
            result=dict(result) if result else None,
            error=error,
        )

    def _update_run(self, run: Job, silent_for: timedelta | None, **values: Any) -> bool:
        job = self.store.jobs.get(run.job_id)
        if (
            job is None
            or (job.status, job.worker, job.attempts) != ("running", run.worker, run.attempts)
            or (silent_for is not None and not _silent(job, silent_for))
        ):
            return False
        self.store.jobs[run.job_id] = dataclasses.replace(job, **values)
        return True

    def get(self, job_id: str) -> Job | None:
        return self.store.jobs.get(job_id)

    def abandoned(self, silent_for: timedelta) -> list[Job]:
        return [
            j for j in self.store.jobs.values() if j.status == "running" and _silent(j, silent_for)
        ]

    def requeue(self, run: Job, silent_for: timedelta | None = None) -> bool:
        return self._update_run(
            run, silent_for, status="queued", started_at=None, heartbeat_at=None, worker=None
        )

    def active(self) -> list[Job]:
        return [j for j in self.store.jobs.values() if j.status in ("queued", "running")]


class InMemoryStatementRepository(StatementRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self.store = store

    def known(self, statement_ids: Iterable[str]) -> dict[str, str]:
        stored = self.store.statements
        return {s: stored[s].content_hash for s in statement_ids if s in stored}

    def voided(self, statement_ids: Iterable[str]) -> set[str]:
        targets = {r.voids for r in self.store.statements.values() if r.voids}
        return {s for s in statement_ids if s in targets}

    def add(self, records: Sequence[StatementRecord]) -> int:
        new = [r for r in records if r.statement_id not in self.store.statements]
        for record in new:
            self.store.statements[record.statement_id] = record
        return len(new)


class InMemoryErasureRepository(ErasureRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self.store = store

    def hold(self, exclusive: bool = False) -> None:
        pass  # a unit of work holds the whole store's lock already

    def erase_lists(self, user_id: UserId) -> dict[str, int]:
        store = self.store
        theirs = {r for r, s in store.slates.items() if s.user_id == user_id}
        credited = [
            e
            for e in store.events.values()
            if e.recommendation_id in theirs and e.user_id != user_id
        ]
        for event in credited:
            store.events[event.event_id] = replace(event, recommendation_id=None)
        impressions = sum(len(store.slates.pop(r).items) for r in theirs)
        return {"slates": len(theirs), "impressions": impressions, "attributions": len(credited)}

    def erase(self, user_id: UserId) -> dict[str, int]:
        store = self.store
        events = [e for e, event in store.events.items() if event.user_id == user_id]
        for event_id in events:
            del store.events[event_id]
        store.event_removals += len(events)
        statements = [s for s, r in store.statements.items() if r.user_id == user_id]
        for statement_id in statements:
            del store.statements[statement_id]
        return erased_counts(len(events), self.erase_lists(user_id), len(statements))

    def record(self, erasure: Erasure) -> None:
        self.store.erasures.append(erasure)

    def latest(self) -> LatestErasure | None:
        removed = [
            (mark, e.erased_at)
            for mark, e in enumerate(self.store.erasures, start=1)
            if e.counts.get("events", 0) > 0
        ]
        if not removed:
            return None
        at = max(moment for _, moment in removed)
        return LatestErasure(at, removed[-1][0], len(self.store.erasures))

    def any(self) -> bool:
        return bool(self.store.erasures)

    def mark(self) -> int:
        return len(self.store.erasures)  # erasures are never removed: their count only grows

    def erased_after(self, user_hashes: Iterable[str], mark: int) -> dict[str, int]:
        wanted = set(user_hashes)
        later = enumerate(self.store.erasures[mark:], start=mark + 1)
        return {e.user_hash: number for number, e in later if e.user_hash in wanted}

    def erased(self, user_hashes: Iterable[str]) -> dict[str, datetime]:
        wanted = set(user_hashes)
        found: dict[str, datetime] = {}
        for erasure in self.store.erasures:
            if erasure.user_hash in wanted:
                found[erasure.user_hash] = max(
                    erasure.erased_at, found.get(erasure.user_hash, erasure.erased_at)
                )
        return found


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
        self.jobs = InMemoryJobRepository(self.working)
        self.trainers = InMemoryTrainerRepository(self.working)
        self.admin_sessions = InMemoryAdminSessionRepository(self.working)
        self.credential_failures = InMemoryCredentialFailureRepository(self.working)
        self.statements = InMemoryStatementRepository(self.working)
        self.erasures = InMemoryErasureRepository(self.working)

    def commit(self) -> None:
        self.committed.publish(self.working)
        self._begin()

    def rollback(self) -> None:
        self._begin()

    def ping(self) -> None:
        pass  # memory is always reachable


def _now() -> datetime:
    """The store's clock: the one clock of the process that holds the store (as the database's
    is for SQL storage), so a job's heartbeats and its silence are told by the same clock."""
    return datetime.now(UTC)


def _silent(job: Job, silent_for: timedelta) -> bool:
    return job.heartbeat_at is not None and job.heartbeat_at < _now() - silent_for


def _earned(slate: Slate | None, event: Interaction, max_clock_skew: timedelta) -> bool:
    """Whether `event` may be credited to `slate`: shown to its learner with its course, and not
    dated more than `max_clock_skew` before it was served."""
    return (
        slate is not None
        and _shown(slate, event)
        and event.occurred_at >= slate.served_at - max_clock_skew
    )


def _shown(slate: Slate | None, event: Interaction) -> bool:
    """Whether `event`'s learner was shown `slate` with its course in it."""
    return (
        slate is not None
        and slate.user_id == event.user_id
        and any(item.course_id == event.course_id for item in slate.items)
    )


class InMemoryFitTurn(FitTurn):
    """The trainers of one process sharing a store take turns too."""

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store

    @contextlib.contextmanager
    def taken(self) -> Iterator[bool]:
        if not self.store.fit_turn.acquire(blocking=False):
            yield False
            return
        try:
            yield True
        finally:
            self.store.fit_turn.release()

    def held(self) -> bool:
        return self.store.fit_turn.locked()
