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

    def __init__(self, name: str, valid: list[str]) -> None:
        super().__init__(f"unknown strategy {name!r}; valid strategies: {', '.join(valid)}")
        self.name = name
        self.valid = valid


class InvalidBatch(DomainError):
    """A batch where at least one item is invalid; nothing of the batch is stored."""

    code = "invalid_batch"
    item = "item"

    def __init__(self, problems: list[dict[str, object]]) -> None:
        first = problems[0]
        super().__init__(
            f"{self.item} {first['index']}: {first['field']}: {first['message']}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
        )
        self.problems = problems


class InvalidEvents(InvalidBatch):
    code = "invalid_events"
    item = "event"


class InvalidCourses(InvalidBatch):
    code = "invalid_courses"
    item = "course"


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
