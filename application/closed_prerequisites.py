"""Prerequisites a catalog write leaves closed: an active course requiring a retired one, or one
the catalog does not have, is recommended only to learners who took that course already."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from application.ports import CourseRepository
from domain.model import Course, CourseId


@dataclass(frozen=True, slots=True, order=True)
class ClosedPrerequisite:
    course_id: CourseId
    prerequisite: CourseId
    retired: bool  # False: the catalog does not have it

    @property
    def message(self) -> str:
        why = "which is retired" if self.retired else "which the catalog does not have"
        return (
            f"{self.course_id} requires {self.prerequisite}, {why}: only learners who took "
            f"{self.prerequisite} can be recommended {self.course_id}"
        )


def closed_prerequisites(
    catalog: CourseRepository, written: Sequence[Course]
) -> list[ClosedPrerequisite]:
    """Those `written` (as stored now) takes part in: the active ones' prerequisites that are
    inactive or gone, and the active courses requiring those of them left inactive. Two
    queries, asked of the written courses and their prerequisites, not the whole catalog."""
    latest = {c.course_id: c for c in written}
    active = [c for c in latest.values() if c.active]
    found = catalog.stored({p for c in active for p in c.prerequisites})
    closed = {
        ClosedPrerequisite(c.course_id, p, p in found)
        for c in active
        for p in c.prerequisites
        if p not in found or not found[p].active
    }
    retired = [course_id for course_id, c in latest.items() if not c.active]
    for prerequisite, needing in catalog.required_by(retired).items():
        closed.update(ClosedPrerequisite(n, prerequisite, True) for n in needing)
    return sorted(closed)
