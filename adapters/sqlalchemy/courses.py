"""The catalog in SQL: its courses and its revision (Core statements, domain objects out)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, func, select, true

from adapters.sqlalchemy.dialects import _insert, among, bytewise
from adapters.sqlalchemy.tables import catalog_revision, courses
from application.ports import CourseRepository
from domain.model import Course, CourseId, Level


def _course(row) -> Course:  # type: ignore[no-untyped-def]
    return Course(
        course_id=CourseId(row.course_id),
        title=row.title,
        description=row.description,
        category=row.category,
        level=Level(row.level),
        tags=tuple(row.tags),
        prerequisites=tuple(CourseId(p) for p in row.prerequisites),
        active=row.active,
    )


class SqlCourseRepository(CourseRepository):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def get(self, course_id: CourseId) -> Course | None:
        row = self.connection.execute(
            select(courses).where(courses.c.course_id == course_id)
        ).first()
        return _course(row) if row else None

    def page(self, limit: int, offset: int) -> list[Course]:
        query = select(courses).order_by(bytewise(courses.c.course_id)).limit(limit).offset(offset)
        return [_course(r) for r in self.connection.execute(query)]

    def count(self) -> int:
        return self.connection.execute(select(func.count()).select_from(courses)).scalar_one()

    def all(self) -> list[Course]:
        return [
            _course(r)
            for r in self.connection.execute(
                select(courses).order_by(bytewise(courses.c.course_id))
            )
        ]

    def upsert(self, items: Sequence[Course]) -> None:
        if not items:
            return
        now = datetime.now(UTC)
        rows = [
            {
                "course_id": c.course_id,
                "title": c.title,
                "description": c.description,
                "category": c.category,
                "level": c.level.value,
                "tags": list(c.tags),
                "prerequisites": list(c.prerequisites),
                "active": c.active,
                "updated_at": now,
            }
            for c in {c.course_id: c for c in items}.values()
        ]
        # the row a trigger raises on every write to courses (migration 0009), should it be gone
        self.connection.execute(
            _insert(self.connection, catalog_revision)
            .values(id=1, revision=time.time_ns() // 1000)
            .on_conflict_do_nothing(index_elements=["id"])
        )
        stmt = _insert(self.connection, courses)
        replace = {name: stmt.excluded[name] for name in rows[0] if name != "course_id"}
        self.connection.execute(
            stmt.on_conflict_do_update(index_elements=["course_id"], set_=replace), rows
        )

    def hold(self) -> None:
        # A write to the revision row, which changes nothing: PostgreSQL locks the row, SQLite
        # the database, until the transaction ends (the trigger of every write to courses writes
        # the row too, so writers that do not hold the catalog first wait for it as well).
        stmt = _insert(self.connection, catalog_revision).values(
            id=1, revision=time.time_ns() // 1000
        )
        self.connection.execute(
            stmt.on_conflict_do_update(
                index_elements=["id"], set_={"revision": catalog_revision.c.revision}
            )
        )

    def existing(self, course_ids: Iterable[CourseId]) -> set[CourseId]:
        wanted = set(course_ids)
        if not wanted:
            return set()
        query = select(courses.c.course_id).where(courses.c.course_id.in_(wanted))
        return set(self.connection.execute(query).scalars())

    def stored(self, course_ids: Iterable[CourseId]) -> dict[CourseId, Course]:
        query = select(courses).where(among(self.connection, courses.c.course_id, course_ids))
        return {CourseId(r.course_id): _course(r) for r in self.connection.execute(query)}

    def required_by(self, course_ids: Iterable[CourseId]) -> dict[CourseId, list[CourseId]]:
        # one row per active course and prerequisite named, the JSON list unnested by the database
        unnest = (
            func.json_array_elements_text
            if self.connection.dialect.name == "postgresql"
            else func.json_each
        )
        named = unnest(courses.c.prerequisites).table_valued("value")
        query = (
            select(named.c.value, courses.c.course_id)
            .select_from(courses.join(named, true()))
            .where(courses.c.active, among(self.connection, named.c.value, course_ids))
            .order_by(bytewise(courses.c.course_id))
        )
        found: dict[CourseId, list[CourseId]] = {}
        for prerequisite, course_id in self.connection.execute(query):
            found.setdefault(CourseId(prerequisite), []).append(CourseId(course_id))
        return found

    def version(self) -> str:
        revision = self.connection.execute(
            select(catalog_revision.c.revision).where(catalog_revision.c.id == 1)
        ).scalar()
        return f"r{revision or 0}"
