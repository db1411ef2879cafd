"""What a learner should know before taking a served course, said after its reason."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from domain.model import Course, CourseId, LearnerHistory, Level, Recommendation


def with_caveats(
    items: Sequence[Recommendation],
    learner: LearnerHistory,
    catalog: Mapping[CourseId, Course],
    history_known: bool = True,
) -> list[Recommendation]:
    """The served items with their reasons followed by caveat(), where there is one."""
    return [
        replace(r, reason=r.reason + caveat(catalog[r.course_id], learner, catalog, history_known))
        if r.reason and r.course_id in catalog
        else r
        for r in items
    ]


def caveat(
    course: Course,
    learner: LearnerHistory,
    catalog: Mapping[CourseId, Course],
    history_known: bool = True,
) -> str:
    """ "; take Python Basics first" for a course whose prerequisites the learner has not taken
    (and those of these, in the order to take them: "; take Python Basics and Intermediate
    Python first" for Advanced Python): the ranking stage only demotes it, and a reason that hid
    it would promise a course they cannot start. Else, for a course two levels above any the
    learner took in its category, what they took there. Without the learner's history (the
    database unreachable) only what the catalog says: "; requires Python Basics"."""
    missing = learner.missing_prerequisites(course)
    if missing and history_known:
        path = learner.to_take_before(course, catalog)
        return f"; take {_and(_title(p, catalog) for p in path)} first"
    if missing:
        return f"; requires {_and(_title(p, catalog) for p in missing)}"
    if not history_known:
        return ""
    level = learner.level_in(course.category, catalog)
    if course.level.step - (level or Level.BEGINNER).step <= 1:
        return ""
    category = course.category or "uncategorised"
    if level is None:
        return f"; {course.level.value}, and you have taken no {category} course yet"
    return f"; {course.level.value}, and your {category} courses so far are {level.value}"


def _title(course_id: CourseId, catalog: Mapping[CourseId, Course]) -> str:
    return catalog[course_id].title if course_id in catalog else course_id


def _and(titles: Iterable[str]) -> str:
    said = list(titles)
    return said[0] if len(said) == 1 else ", ".join(said[:-1]) + " and " + said[-1]
