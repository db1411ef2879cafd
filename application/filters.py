"""Home-page filters are checked against the catalog: an unknown value is an error, not an empty
answer that reads like "nothing suits you"."""

from __future__ import annotations

from collections.abc import Iterable

from application.strategies import Snapshot
from domain.errors import InvalidFilter
from domain.model import CourseId, Level


def check_filters(snapshot: Snapshot, category: str | None, level: Level | None) -> None:
    """Refuses a category or level no offered course has (a level: in the category asked). Asked
    of the snapshot's sets, worked out with it: a request does not walk the catalog; only a
    refused one does, to list the values it could have asked for."""
    in_category = None
    if category is not None:
        in_category = snapshot.categories.get(category.lower(), frozenset())
        if not category or not _any_offered(in_category, snapshot):
            offered = [c for c in snapshot.courses.values() if c.active]
            categories = sorted({c.category for c in offered if c.category}, key=str.lower)
            raise InvalidFilter("category", category, categories)
    if level is not None:
        at_level: Iterable[CourseId] = snapshot.levels.get(level, frozenset())
        if in_category is not None:  # walk the smaller of the two, up to a course offered
            small, large = sorted((at_level, in_category), key=len)
            at_level = (c for c in small if c in large)
        if not _any_offered(at_level, snapshot):
            offered = [
                c
                for c in snapshot.courses.values()
                if c.active and (in_category is None or c.course_id in in_category)
            ]
            levels = [lv.value for lv in Level if any(c.level is lv for c in offered)]
            where = f" in category {category!r}" if category is not None else ""
            raise InvalidFilter("level", level.value, levels, where)


def _any_offered(course_ids: Iterable[CourseId], snapshot: Snapshot) -> bool:
    return any(c not in snapshot.inactive for c in course_ids)
