"""Home-page filters are checked against the catalog: an unknown value is an error, not an empty
answer that reads like "nothing suits you"."""

from __future__ import annotations

from collections.abc import Iterable

from domain.errors import InvalidFilter
from domain.model import Course, Level


def check_filters(courses: Iterable[Course], category: str | None, level: Level | None) -> None:
    active = [c for c in courses if c.active]
    if category is not None:
        categories = sorted({c.category for c in active if c.category}, key=str.lower)
        if category.lower() not in {c.lower() for c in categories}:
            raise InvalidFilter("category", category, categories)
        active = [c for c in active if c.category.lower() == category.lower()]
    if level is not None:
        levels = [lv.value for lv in Level if any(c.level is lv for c in active)]
        if level.value not in levels:
            where = f" in category {category!r}" if category is not None else ""
            raise InvalidFilter("level", level.value, levels, where)
