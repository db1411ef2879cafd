"""LogInteractions: store a batch of learner events, all or nothing, idempotent on event_id.

Idempotent means a retry (the same event_id with the same event) counts once; the same event_id
with a different event is a conflict, not a duplicate to drop silently. A retry whose time is its
time of arrival (the client sent none) differs only in that time: it is still a duplicate.

An event of an erased learner dated at or before their erasure is a replay of what was erased
(an LMS's backlog, an old export): it is ignored, and counted as such, never stored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from application.ports import Shown, UnitOfWork
from application.use_cases.erase_learner import last_erased
from domain.errors import EventConflict, InvalidEvents
from domain.model import Interaction

DEFAULT_CLOCK_SKEW = timedelta(minutes=5)
_COMPARED = ("user_id", "course_id", "event_type", "occurred_at", "recommendation_id")
_COMPARED_BUT_TIME = tuple(f for f in _COMPARED if f != "occurred_at")
#: the reason xAPI statements replayed after an erasure are ignored for, too
REPLAYED = "happened before the learner was erased"


@dataclass(frozen=True, slots=True)
class LogResult:
    accepted: int
    duplicates: int
    #: reason -> events neither stored nor duplicates (replays of erased learners' events)
    ignored: Mapping[str, int] = field(default_factory=dict)


class LogInteractions:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        max_clock_skew: timedelta | float = DEFAULT_CLOCK_SKEW,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.uow_factory = uow_factory
        #: how far in the future an event may claim to have happened (client clocks drift)
        self.max_clock_skew = as_timedelta(max_clock_skew)
        self.clock = clock

    def execute(self, events: Sequence[Interaction]) -> LogResult:
        with self.uow_factory() as uow:
            result = log_within(uow, events, self.clock(), self.max_clock_skew)
            uow.commit()
        return result

    def unserved(self, events: Sequence[Interaction]) -> set[str]:
        """The event ids of `events` credited to a list this database does not hold (exported
        from another database, whose lists stayed there; or removed past RS_LIST_RETENTION_DAYS),
        but those stored already with that credit: imported again, they are duplicates, not
        conflicts."""
        named = {e.recommendation_id for e in events if e.recommendation_id}
        with self.uow_factory() as uow:
            held = uow.slates.shown(named).keys()
            stored = uow.interactions.stored({e.event_id for e in events})
        return {
            e.event_id
            for e in events
            if e.recommendation_id
            and e.recommendation_id not in held
            and not _credited_alike(stored.get(e.event_id), e)
        }

    def check(self, events: Sequence[Interaction]) -> list[dict[str, object]]:
        """What execute() would reject, without writing anything (conflicts as event_id problems)."""
        with self.uow_factory() as uow:
            replays = _replays(uow, events)
            stored = uow.interactions.stored({e.event_id for e in events})
            skipped = replays | _unchanged(events, stored)
            problems = _problems(uow, events, self.clock(), self.max_clock_skew, skipped)
            for index, conflict in _conflicts(events, stored, replays):
                problems.append(_problem(index, "event_id", str(conflict)))
        return problems


def as_timedelta(seconds: timedelta | float) -> timedelta:
    """RS_MAX_CLOCK_SKEW comes in seconds."""
    return seconds if isinstance(seconds, timedelta) else timedelta(seconds=seconds)


def log_within(
    uow: UnitOfWork,
    events: Sequence[Interaction],
    now: datetime | None = None,
    max_clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> LogResult:
    """Check and store events inside the caller's unit of work (which commits or rolls back).
    Replays are left out before the checks: a replayed click names a list the erasure removed.
    An erasure of one of their learners under way finishes first, or waits for these."""
    uow.erasures.hold()
    replays = _replays(uow, events)
    ids = {e.event_id for e in events}
    stored = uow.interactions.stored(ids)
    # an event stored already, sent again as it was, is a duplicate whatever became of its
    # list since (removed past RS_LIST_RETENTION_DAYS, or its course): nothing is written
    skipped = replays | _unchanged(events, stored)
    problems = _problems(uow, events, now or datetime.now(UTC), max_clock_skew, skipped)
    if problems:
        raise InvalidEvents(problems)
    conflicts = _conflicts(events, stored, replays)
    if conflicts:
        raise conflicts[0][1]
    kept = [e for i, e in enumerate(events) if i not in replays]
    accepted = uow.interactions.add_batch(kept)
    if accepted < len(kept):
        # Not all new: another request may have stored one of these ids since the check above,
        # and its event, not this one, is what add_batch kept. Another event is a conflict.
        conflicts = _conflicts(events, uow.interactions.stored(ids), replays)
        if conflicts:
            raise conflicts[0][1]
    return LogResult(accepted, len(kept) - accepted, {REPLAYED: len(replays)} if replays else {})


def _replays(uow: UnitOfWork, events: Sequence[Interaction]) -> set[int]:
    """Indexes of the events dated at or before their learner's erasure. Later ones are the
    new learner's."""
    erased = last_erased(uow, (e.user_id for e in events))
    return {
        index
        for index, event in enumerate(events)
        if event.user_id in erased and event.occurred_at <= erased[event.user_id]
    }


def _problems(
    uow: UnitOfWork,
    events: Sequence[Interaction],
    now: datetime,
    max_clock_skew: timedelta,
    replays: set[int],
) -> list[dict[str, object]]:
    courses = uow.courses.existing({e.course_id for e in events})
    slates = uow.slates.shown({e.recommendation_id for e in events if e.recommendation_id})
    latest = now + max_clock_skew
    problems: list[dict[str, object]] = []
    for index, event in enumerate(events):
        if index in replays:
            continue
        if event.course_id not in courses:
            problems.append(_problem(index, "course_id", f"unknown course {event.course_id!r}"))
        if event.recommendation_id:
            credit = _credit_problem(event, slates.get(event.recommendation_id), max_clock_skew)
            if credit:
                problems.append(_problem(index, "recommendation_id", credit))
        if event.occurred_at > latest:
            seconds = int(max_clock_skew.total_seconds())
            problems.append(
                _problem(
                    index,
                    "occurred_at",
                    f"lies more than {seconds} s in the future (RS_MAX_CLOCK_SKEW)",
                )
            )
    return problems


def _credit_problem(event: Interaction, shown: Shown | None, max_clock_skew: timedelta) -> str:
    """Why `event` may not be credited to the list it names ("": it may). Only what its learner
    was shown, after it was shown, counts, or CTR and the bandit's rewards would count events the
    list never caused (the platform's clock may be behind ours by up to max_clock_skew)."""
    if shown is None:
        return (
            "no list this database holds was served with this id (never served here, or "
            "removed past RS_LIST_RETENTION_DAYS)"
        )
    if shown.user_id != event.user_id:
        return "the list served with this id was shown to another learner"
    if event.course_id not in shown.course_ids:
        return f"course {event.course_id!r} was not in the list served with this id"
    if event.occurred_at < shown.served_at - max_clock_skew:
        served = shown.served_at.isoformat(timespec="seconds").replace("+00:00", "Z")
        return f"happened before the list with this id was served ({served}; RS_MAX_CLOCK_SKEW)"
    return ""


def _problem(index: int, field: str, message: str) -> dict[str, object]:
    return {"index": index, "field": field, "message": message}


def differences(earlier: Interaction, event: Interaction) -> list[str]:
    """The fields in which `event` is not the event logged `earlier` under its event_id."""
    compared = _COMPARED_BUT_TIME if event.time_of_arrival else _COMPARED
    return [f for f in compared if getattr(earlier, f) != getattr(event, f)]


def _credited_alike(earlier: Interaction | None, event: Interaction) -> bool:
    return earlier is not None and earlier.recommendation_id == event.recommendation_id


def _unchanged(events: Sequence[Interaction], stored: Mapping[str, Interaction]) -> set[int]:
    """Indexes of the events stored already as they are (duplicates)."""
    return {
        index
        for index, event in enumerate(events)
        if event.event_id in stored and not differences(stored[event.event_id], event)
    }


def _conflicts(
    events: Sequence[Interaction], stored: Mapping[str, Interaction], replays: set[int]
) -> list[tuple[int, EventConflict]]:
    """(index, conflict) of each event but `replays` whose event_id names another event: a
    stored one (`stored`, by event_id), or an earlier one of the batch."""
    first: dict[str, int] = {}
    found = []
    for index, event in enumerate(events):
        if index in replays:
            continue
        if event.event_id in stored:
            differ = differences(stored[event.event_id], event)
            if differ:
                found.append((index, EventConflict(event.event_id, differ)))
            continue
        earlier = first.setdefault(event.event_id, index)
        differ = differences(events[earlier], event)
        if differ:
            found.append((index, EventConflict(event.event_id, differ, [earlier, index])))
    return found
