"""LogInteractions: store a batch of learner events, all or nothing, idempotent on event_id."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from application.ports import UnitOfWork
from domain.errors import InvalidEvents
from domain.model import Interaction


@dataclass(frozen=True, slots=True)
class LogResult:
    accepted: int
    duplicates: int


class LogInteractions:
    def __init__(self, uow_factory: Callable[[], UnitOfWork]) -> None:
        self.uow_factory = uow_factory

    def execute(self, events: Sequence[Interaction]) -> LogResult:
        with self.uow_factory() as uow:
            result = log_within(uow, events)
            uow.commit()
        return result

    def check(self, events: Sequence[Interaction]) -> list[dict[str, object]]:
        """What execute() would reject, without writing anything."""
        with self.uow_factory() as uow:
            return _problems(uow, events)


def log_within(uow: UnitOfWork, events: Sequence[Interaction]) -> LogResult:
    """Check and store events inside the caller's unit of work (which commits or rolls back)."""
    problems = _problems(uow, events)
    if problems:
        raise InvalidEvents(problems)
    accepted = uow.interactions.add_batch(events)
    return LogResult(accepted, len(events) - accepted)


def _problems(uow: UnitOfWork, events: Sequence[Interaction]) -> list[dict[str, object]]:
    courses = uow.courses.existing({e.course_id for e in events})
    slates = uow.slates.existing({e.recommendation_id for e in events if e.recommendation_id})
    problems: list[dict[str, object]] = []
    for index, event in enumerate(events):
        if event.course_id not in courses:
            problems.append(
                {
                    "index": index,
                    "field": "course_id",
                    "message": f"unknown course {event.course_id!r}",
                }
            )
        if event.recommendation_id and event.recommendation_id not in slates:
            problems.append(
                {
                    "index": index,
                    "field": "recommendation_id",
                    "message": "no recommendation was served with this id",
                }
            )
    return problems
