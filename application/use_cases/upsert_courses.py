"""UpsertCourses: add or replace catalog entries, checking that prerequisites exist and that they
never lead back to the course (a cycle would make every course on it impossible to start)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from application.closed_prerequisites import ClosedPrerequisite, closed_prerequisites
from application.ports import UnitOfWork
from domain.errors import InvalidCourses, PrerequisiteCycle
from domain.model import Course, CourseId


class UpsertCourses:
    def __init__(self, uow_factory: Callable[[], UnitOfWork]) -> None:
        self.uow_factory = uow_factory

    def execute(self, courses: Sequence[Course]) -> int:
        with self.uow_factory() as uow:
            uow.courses.hold()  # two writes checked at once could each be sound, together a cycle
            _write(uow, courses)
        return len(courses)

    def write_one(
        self, course_id: CourseId, replacement: Callable[[Course | None], Course]
    ) -> Course:
        """Store what `replacement` makes of the stored course (None: there is none), read and
        written while holding the catalog: of two changes of one course at once (a PATCH of its
        title, another of its tags), the second starts from the first's, and both are kept."""
        with self.uow_factory() as uow:
            uow.courses.hold()
            course = replacement(uow.courses.get(course_id))
            _write(uow, [course])
        return course

    def still_required_by(self, courses: Sequence[Course]) -> dict[CourseId, list[CourseId]]:
        """For each inactive one of `courses`, the active courses that name it as a prerequisite
        (those no active course names left out): a learner who has not taken it cannot take them
        either, and they are not recommended to them, which the operator retiring it should know."""
        retired = [c.course_id for c in courses if not c.active]
        if not retired:
            return {}
        with self.uow_factory() as uow:
            return uow.courses.required_by(retired)

    def closed_prerequisites(self, courses: Sequence[Course]) -> list[ClosedPrerequisite]:
        """After a write of `courses`: each active course among them, or requiring one of them,
        that requires a retired course or one the catalog does not have (what learners who have
        not taken that one are never recommended), which the operator writing it should know."""
        with self.uow_factory() as uow:
            return closed_prerequisites(uow.courses, courses)

    def check(self, courses: Sequence[Course]) -> list[dict[str, object]]:
        """What execute() would reject, by index, without writing: unknown prerequisites, and each
        course on a cycle. A cycle's courses are left out before looking for the next, as a caller
        skipping them would, so every cycle is named once."""
        with self.uow_factory() as uow:
            problems = _unknown_prerequisites(uow, courses)
            index = {c.course_id: i for i, c in enumerate(courses)}
            incoming, prerequisites = _catalog_after(uow, courses)
            while cycle := find_cycle(incoming, prerequisites):
                on_it = [c for c in dict.fromkeys(cycle) if c in incoming]
                for course_id in on_it:
                    incoming.pop(course_id)
                    shown = " -> ".join(_from(cycle, course_id))
                    message = f"form a cycle: {shown} (each requires the next)"
                    problems.append(_problem(index[course_id], message))
                if not on_it:  # a cycle among stored courses only (stored before it was checked)
                    for course_id in [
                        c for c in incoming if find_cycle({c: incoming[c]}, prerequisites)
                    ]:
                        incoming.pop(course_id)
                        shown = " -> ".join(cycle)
                        message = f"leads into a stored cycle: {shown} (each requires the next)"
                        problems.append(_problem(index[course_id], message))
        return problems


def _write(uow: UnitOfWork, courses: Sequence[Course]) -> None:
    """Check and store `courses` in a unit of work that holds the catalog."""
    problems = _unknown_prerequisites(uow, courses)
    if problems:
        raise InvalidCourses(problems)
    cycle = find_cycle(*_catalog_after(uow, courses))
    if cycle:
        raise PrerequisiteCycle(list(cycle))
    # A course written as it is stored changes nothing: left out, so a catalog sent again whole
    # (an LMS's nightly sync) does not raise the catalog's version, which would have every
    # strategy refitted and every worker reload the catalog for nothing.
    latest = {c.course_id: c for c in courses}  # the last copy of a course wins
    stored = uow.courses.stored(latest)
    changed = [c for c in latest.values() if stored.get(c.course_id) != c]
    if changed:
        uow.courses.upsert(changed)
    uow.commit()


def _unknown_prerequisites(uow: UnitOfWork, courses: Sequence[Course]) -> list[dict[str, object]]:
    """Each prerequisite that names no course, as field prerequisites[i] (as tags[i] is named).
    One the stored course names already is not checked again: a prerequisite deleted from the
    database by hand would otherwise refuse every later write of the course (a PATCH of its
    title), naming a field the operator did not send; it stays, and keeps the course from
    learners who have not taken it, as an inactive prerequisite does."""
    stored = uow.courses.stored(c.course_id for c in courses)
    added = [
        set(c.prerequisites)
        - set(stored[c.course_id].prerequisites if c.course_id in stored else ())
        for c in courses
    ]
    needed = set().union(*added) - {c.course_id for c in courses}
    unknown = needed - uow.courses.existing(needed)
    return [
        _problem(index, f"unknown course {prerequisite!r}", f"prerequisites[{place}]")
        for index, course in enumerate(courses)
        for place, prerequisite in enumerate(course.prerequisites)
        if prerequisite in unknown and prerequisite in added[index]
    ]


def _problem(index: int, message: str, field: str = "prerequisites") -> dict[str, object]:
    return {"index": index, "field": field, "message": message}


def _catalog_after(
    uow: UnitOfWork, courses: Sequence[Course]
) -> tuple[dict[CourseId, Course], Callable[[CourseId], tuple[CourseId, ...]]]:
    """The incoming courses by id, and the prerequisites of any course once they are stored
    (what is left out of the incoming dict keeps its stored prerequisites)."""
    incoming = {c.course_id: c for c in courses}

    def prerequisites(course_id: CourseId) -> tuple[CourseId, ...]:
        course = incoming.get(course_id) or uow.courses.get(course_id)
        return course.prerequisites if course else ()

    return incoming, prerequisites


def _from(cycle: tuple[CourseId, ...], course_id: CourseId) -> tuple[CourseId, ...]:
    """The cycle [a, b, c, a] told from `course_id`: [b, c, a, b]."""
    ring = cycle[:-1]
    start = ring.index(course_id)
    return (*ring[start:], *ring[:start], course_id)


def find_cycle(
    start: Mapping[CourseId, Course], prerequisites: Callable[[CourseId], tuple[CourseId, ...]]
) -> tuple[CourseId, ...]:
    """A cycle through the catalog as it would be after the upsert, as [a, b, ..., a], or ().

    The stored catalog should have none, so a new cycle passes through an incoming course:
    walking from those alone finds it (and a stored one they lead into). Iterative depth-first
    search; each course is expanded at most once.
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
