"""UpsertCourses: add or replace catalog entries, checking that prerequisites exist and that they
never lead back to the course (a cycle would make every course on it impossible to start)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from application.ports import UnitOfWork
from domain.errors import InvalidCourses, PrerequisiteCycle
from domain.model import Course, CourseId


class UpsertCourses:
    def __init__(self, uow_factory: Callable[[], UnitOfWork]) -> None:
        self.uow_factory = uow_factory

    def execute(self, courses: Sequence[Course]) -> int:
        with self.uow_factory() as uow:
            incoming = {c.course_id: c for c in courses}
            needed = {p for c in courses for p in c.prerequisites} - set(incoming)
            known = uow.courses.existing(needed) | set(incoming)
            problems: list[dict[str, object]] = [
                {
                    "index": index,
                    "field": "prerequisites",
                    "message": f"unknown course {prerequisite!r}",
                }
                for index, course in enumerate(courses)
                for prerequisite in course.prerequisites
                if prerequisite not in known
            ]
            if problems:
                raise InvalidCourses(problems)

            def prerequisites(course_id: CourseId) -> tuple[CourseId, ...]:
                course = incoming.get(course_id) or uow.courses.get(course_id)
                return course.prerequisites if course else ()

            cycle = find_cycle(incoming, prerequisites)
            if cycle:
                raise PrerequisiteCycle(list(cycle))
            uow.courses.upsert(courses)
            uow.commit()
        return len(courses)


def find_cycle(
    start: Mapping[CourseId, Course], prerequisites: Callable[[CourseId], tuple[CourseId, ...]]
) -> tuple[CourseId, ...]:
    """A cycle through the catalog as it would be after the upsert, as [a, b, ..., a], or ().

    The stored catalog has none, so any cycle passes through an incoming course: walking from
    those alone finds it. Iterative depth-first search; each course is expanded at most once.
    """
    done: set[CourseId] = set()
    memo: dict[CourseId, tuple[CourseId, ...]] = {}
    for root in start:
        if root in done:
            continue
        path: list[CourseId] = [root]
        on_path = {root}
        stack = [iter(memo.setdefault(root, prerequisites(root)))]
        while stack:
            following = next(stack[-1], None)
            if following is None:
                stack.pop()
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                continue
            if following in on_path:
                return (*path[path.index(following) :], following)
            if following in done:
                continue
            path.append(following)
            on_path.add(following)
            if following not in memo:
                memo[following] = prerequisites(following)
            stack.append(iter(memo[following]))
    return ()
