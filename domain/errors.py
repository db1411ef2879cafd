"""Errors the domain raises; entrypoints map them to status codes."""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"


class UnknownCourse(DomainError):
    code = "unknown_course"

    def __init__(self, course_id: str) -> None:
        super().__init__(f"course {course_id!r} does not exist")
        self.course_id = course_id


class InvalidStrategy(DomainError):
    code = "invalid_strategy"

    def __init__(self, name: str, valid: list[str], not_for: str = "") -> None:
        """`not_for`: what a known strategy cannot do here (e.g. "similar courses" for auto)."""
        said = (
            f"strategy {name!r} does not apply to {not_for}"
            if not_for
            else f"unknown strategy {name!r}"
        )
        super().__init__(f"{said}; valid strategies: {', '.join(valid)}")
        self.name = name
        self.valid = valid


class InvalidBatch(DomainError):
    """A batch where at least one item is invalid; nothing of the batch is stored."""

    code = "invalid_batch"
    item = "item"

    def __init__(self, problems: list[dict[str, object]]) -> None:
        first = problems[0]
        where = f"{self.item} {first['index']}: " if first["index"] is not None else ""
        super().__init__(
            f"{where}{first['field']}: {first['message']}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
        )
        self.problems = problems

    def of_one(self) -> InvalidBatch:
        """The same problems for a request of one item, which has no index to name."""
        return type(self)([{**problem, "index": None} for problem in self.problems])


class InvalidEvents(InvalidBatch):
    code = "invalid_events"
    item = "event"


class InvalidCourses(InvalidBatch):
    code = "invalid_courses"
    item = "course"


class PrerequisiteCycle(DomainError):
    """Prerequisites that lead back to the course: nobody could ever start it."""

    code = "prerequisite_cycle"

    def __init__(self, cycle: list[str]) -> None:
        shown = " -> ".join(cycle)
        super().__init__(f"prerequisites form a cycle: {shown} (each requires the next)")
        self.cycle = cycle


class InvalidFilter(DomainError):
    """A filter value no active course has; `valid` lists the values that do."""

    code = "invalid_filter"

    def __init__(self, field: str, value: str, valid: list[str], where: str = "") -> None:
        super().__init__(
            f"no active course has {field} {value!r}{where}; valid values: "
            + (", ".join(valid) or "none")
        )
        self.field = field
        self.valid = valid


class EventConflict(DomainError):
    """An event_id already names a different event: a retry must resend the same payload."""

    code = "event_conflict"

    def __init__(
        self, event_id: str, differences: list[str], indexes: list[int] | None = None
    ) -> None:
        """`indexes`: the two positions of an id repeated within one batch (None: stored before)."""
        what = ", ".join(differences)
        said = (
            f"event {event_id!r} is repeated within the batch (events {indexes[0]} and "
            f"{indexes[1]}) with a different {what}"
            if indexes
            else f"event {event_id!r} was already logged with a different {what}"
        )
        super().__init__(
            f"{said}; a retry must send the same event, a new event needs a new event_id"
        )
        self.event_id = event_id
        self.differences = differences
        self.indexes = indexes


class StrategyUnavailable(DomainError):
    """The strategy exists but cannot answer yet (no data or no trained model)."""

    code = "strategy_unavailable"


class InvalidStatements(InvalidBatch):
    """An xAPI batch with an invalid statement; nothing of the batch is stored."""

    code = "invalid_statements"
    item = "statement"


class StatementConflict(DomainError):
    """A statement id arrived again with different content (xAPI: 409 Conflict)."""

    code = "statement_conflict"

    def __init__(self, statement_ids: list[str]) -> None:
        super().__init__(
            f"statement {statement_ids[0]} was stored already with different content"
            + (f" (and {len(statement_ids) - 1} more)" if len(statement_ids) > 1 else "")
        )
        self.statement_ids = statement_ids
