"""IngestStatements: xAPI statements become learner events, all or nothing, idempotent on the id."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from application.ports import StatementRecord, UnitOfWork
from application.use_cases.erase_learner import last_erased
from application.use_cases.log_interactions import DEFAULT_CLOCK_SKEW, as_timedelta, log_within
from application.xapi_mapping import XapiMapping
from application.xapi_statements import Statement, parse_all
from domain.errors import InvalidStatements, StatementConflict
from domain.model import CourseId, Interaction

EVENT_PREFIX = "xapi:"


@dataclass
class XapiResult:
    """ids: every statement's id, in order. accepted: events stored. duplicates: statements seen
    before with the same content. ignored: reason -> statements acknowledged without an event.
    voided: events removed by voiding statements. conflicts: ids skipped for different content."""

    ids: list[str] = field(default_factory=list)
    accepted: int = 0
    duplicates: int = 0
    ignored: Counter[str] = field(default_factory=Counter)
    voided: int = 0
    conflicts: list[str] = field(default_factory=list)

    def add(self, other: XapiResult) -> None:
        self.ids += other.ids
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.ignored.update(other.ignored)
        self.voided += other.voided
        self.conflicts += other.conflicts


class _StoredMeanwhile(Exception):
    """Another transaction stored one of the statements since this one looked them up."""


class IngestStatements:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        mapping: XapiMapping,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_clock_skew: timedelta | float = DEFAULT_CLOCK_SKEW,
    ) -> None:
        self.uow_factory = uow_factory
        self.mapping = mapping
        self.clock = clock
        #: how far in the future a statement's timestamp may lie: the limit of every event
        self.max_clock_skew = as_timedelta(max_clock_skew)

    def parse(
        self, raws: Sequence[Any], derive_ids: bool = False
    ) -> tuple[list[Statement], list[dict[str, object]]]:
        """Valid statements and the problems of the others ({index, field, message}; an id
        repeated in `raws` is one). `derive_ids`: a statement without an id gets one derived
        from its content (backfills)."""
        return parse_all(
            raws, self.mapping.qualify_accounts, self.clock(), self.max_clock_skew, derive_ids
        )

    def execute(self, raws: Sequence[Any]) -> XapiResult:
        """A batch from an LRS client: any invalid statement or id conflict rejects all of it."""
        statements, problems = self.parse(raws)
        if problems:
            raise InvalidStatements(problems)
        return self.store(statements, skip_conflicts=False)

    def store(self, statements: Sequence[Statement], skip_conflicts: bool) -> XapiResult:
        """Store valid statements in one transaction; conflicts raise unless `skip_conflicts`.
        A statement another request stored meanwhile (an LRS sending again before the first
        answer) is known when the transaction starts over: a duplicate, or a conflict."""
        while True:  # each round knows the statements that raced it: few rounds, if more than one
            try:
                return self._store(statements, skip_conflicts)
            except _StoredMeanwhile:
                continue

    def _store(self, statements: Sequence[Statement], skip_conflicts: bool) -> XapiResult:
        result = XapiResult(ids=[s.id for s in statements])
        now = self.clock()
        with self.uow_factory() as uow:
            uow.erasures.hold()  # a statement of a learner being erased is kept or checked after
            known = uow.statements.known(s.id for s in statements)
            fresh = [s for s in statements if s.id not in known]
            result.duplicates = len(statements) - len(fresh)
            result.conflicts = [
                s.id for s in statements if s.id in known and known[s.id] != s.content_hash
            ]
            result.duplicates -= len(result.conflicts)
            if result.conflicts and not skip_conflicts:
                raise StatementConflict(result.conflicts)
            voided = uow.statements.voided(s.id for s in fresh)
            voided.update(s.voids for s in fresh if s.voids)
            courses = self._courses(uow, fresh)
            events = []
            for statement in fresh:
                event = self._event(statement, courses, voided, now, result.ignored)
                if event is not None:
                    events.append(event)
            records = self._records(uow, fresh, now)
            if uow.statements.add(records) < len(records):
                raise _StoredMeanwhile  # rolls this transaction back
            # what happened before an erasure is ignored there too: a replayed backlog
            logged = log_within(uow, events, now, self.max_clock_skew)
            result.accepted = logged.accepted
            result.ignored.update(logged.ignored)
            targets = [EVENT_PREFIX + s.voids for s in fresh if s.voids]
            result.voided = uow.interactions.remove(targets)
            uow.commit()
        return result

    def _records(
        self, uow: UnitOfWork, statements: Sequence[Statement], now: datetime
    ) -> list[StatementRecord]:
        """What is kept of `statements`. One of an erased learner dated at or before their
        erasure (a replayed backlog) is kept without the learner's id: the id and content hash
        still make a re-send a duplicate, and the learner is not back in the database."""
        erased = last_erased(uow, (s.user_id for s in statements if s.user_id is not None))
        records = []
        for s in statements:
            erased_at = erased.get(s.user_id) if s.user_id is not None else None
            replayed = erased_at is not None and (s.timestamp or now) <= erased_at
            user = None if replayed else s.user_id
            records.append(StatementRecord(s.id, s.content_hash, user, s.voids, now))
        return records

    def _courses(self, uow: UnitOfWork, statements: Sequence[Statement]) -> dict[str, CourseId]:
        """Activity IRI -> the catalog course it stands for, for every IRI that stands for one."""
        candidates = {
            iri: self.mapping.candidates(iri)
            for statement in statements
            for iri in self._activities(statement)
        }
        existing = uow.courses.existing({c for found in candidates.values() for c in found})
        return {
            iri: next(c for c in found if c in existing)
            for iri, found in candidates.items()
            if any(c in existing for c in found)
        }

    def _activities(self, statement: Statement) -> list[str]:
        own = [statement.object_id] if statement.object_type == "Activity" else []
        context = list(statement.context_ids) if self.mapping.context_event else []
        return own + context

    def _event(
        self,
        statement: Statement,
        courses: dict[str, CourseId],
        voided: set[str],
        now: datetime,
        ignored: Counter[str],
    ) -> Interaction | None:
        """The statement's event, or None after counting why it has none."""
        if statement.voids:
            return None
        kind = self.mapping.event_type(statement.verb)
        reason = None
        if statement.id in voided:
            reason = "voided"
        elif statement.user_id is None:
            reason = "actor is a group"
        elif kind is None:
            reason = "verb not mapped"
        elif statement.object_type != "Activity":
            reason = "object is not an activity"
        course, via_context = self._course(statement, courses) if reason is None else (None, False)
        if reason is None and course is None:
            reason = "activity not mapped to a catalog course"
        if reason is not None:
            ignored[reason] += 1
            return None
        assert kind is not None and statement.user_id is not None and course is not None
        cap = self.mapping.context_event
        if via_context and cap is not None and cap.strength < kind.strength:
            kind = cap
        return Interaction(
            event_id=EVENT_PREFIX + statement.id,
            user_id=statement.user_id,
            course_id=course,
            event_type=kind,
            occurred_at=statement.timestamp or now,
        )

    def _course(
        self, statement: Statement, courses: dict[str, CourseId]
    ) -> tuple[CourseId | None, bool]:
        """The catalog course the statement is about, and whether it was found in the context."""
        for position, iri in enumerate(self._activities(statement)):
            if iri in courses:
                return courses[iri], position > 0 or statement.object_type != "Activity"
        return None, False
