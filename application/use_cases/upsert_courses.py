"""UpsertCourses: add or replace catalog entries, checking that prerequisites exist."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from application.ports import UnitOfWork
from domain.errors import InvalidCourses
from domain.model import Course


class UpsertCourses:
    def __init__(self, uow_factory: Callable[[], UnitOfWork]) -> None:
        self.uow_factory = uow_factory

    def execute(self, courses: Sequence[Course]) -> int:
        with self.uow_factory() as uow:
            incoming = {c.course_id for c in courses}
            needed = {p for c in courses for p in c.prerequisites} - incoming
            known = uow.courses.existing(needed) | incoming
            problems: list[dict[str, object]] = []
            for index, course in enumerate(courses):
                for prerequisite in course.prerequisites:
                    if prerequisite == course.course_id:
                        problems.append(
                            {
                                "index": index,
                                "field": "prerequisites",
                                "message": "a course cannot require itself",
                            }
                        )
                    elif prerequisite not in known:
                        problems.append(
                            {
                                "index": index,
                                "field": "prerequisites",
                                "message": f"unknown course {prerequisite!r}",
                            }
                        )
            if problems:
                raise InvalidCourses(problems)
            uow.courses.upsert(courses)
            uow.commit()
        return len(courses)
