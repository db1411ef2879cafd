"""The course catalog: read it, and upsert it (an operator's action)."""

from __future__ import annotations

from collections.abc import Callable

from dependency_injector.wiring import Provide, inject
from flask import Blueprint

from application.ports import UnitOfWork
from application.use_cases.upsert_courses import UpsertCourses
from domain.errors import InvalidCourses, UnknownCourse
from domain.model import Course, CourseId
from entrypoints.api.auth import admin_required
from entrypoints.api.errors import BadRequest
from entrypoints.api.http import json_body, no_query, query
from entrypoints.api.openapi import documented
from entrypoints.container import Container
from entrypoints.schemas import (
    CourseBatchSchema,
    CourseBodySchema,
    CourseListSchema,
    CoursePatchSchema,
    CourseSchema,
    CourseWrittenSchema,
    PageQuerySchema,
    StoredCourseSchema,
    UpsertResultSchema,
    course_json,
)

bp = Blueprint("courses", __name__, url_prefix="/api/v1/courses")
WRITE_ERRORS = (400, 401, 403, 409, 413, 415)


@bp.get("")
@documented("List the catalog", CourseListSchema, query=PageQuerySchema, errors=(400,))
@inject
def list_courses(uow: UnitOfWork = Provide[Container.uow]):  # type: ignore[no-untyped-def]
    args = query(PageQuerySchema)
    with uow:
        items = uow.courses.page(args["limit"], args["offset"])
        total = uow.courses.count()
    return {"items": [course_json(c) for c in items], "total": total}


@bp.get("/<id:course_id>")
@documented("One course", StoredCourseSchema, errors=(400, 404))
@inject
def get_course(course_id: str, uow: UnitOfWork = Provide[Container.uow]):  # type: ignore[no-untyped-def]
    no_query()
    with uow:
        course = uow.courses.get(CourseId(course_id))
    if course is None:
        raise UnknownCourse(course_id)
    return course_json(course)


@bp.put("/<id:course_id>")
@documented(
    "Create or fully replace one course: fields left out take their defaults (empty "
    "description, tags and prerequisites; level beginner; active). Warnings name what now "
    "requires a retired course or one not in the catalog",
    CourseWrittenSchema,
    body=CourseBodySchema,
    errors=WRITE_ERRORS,
)
@admin_required
@inject
def put_course(course_id: str, use_case: UpsertCourses = Provide[Container.upsert_courses]):  # type: ignore[no-untyped-def]
    course = CourseSchema().load({**_course_body(course_id), "course_id": course_id})
    return _upsert_one(use_case, CourseId(course_id), lambda _stored: course)


@bp.patch("/<id:course_id>")
@documented(
    "Change some fields of one course; fields left out keep their stored values. Warnings name "
    "what now requires a retired course or one not in the catalog",
    CourseWrittenSchema,
    body=CoursePatchSchema,
    errors=(*WRITE_ERRORS, 404),
)
@admin_required
@inject
def patch_course(course_id: str, use_case: UpsertCourses = Provide[Container.upsert_courses]):  # type: ignore[no-untyped-def]
    changes = _course_body(course_id)

    def changed(stored: Course | None) -> Course:
        if stored is None:
            raise UnknownCourse(course_id)
        course: Course = CourseSchema().load(
            {**course_json(stored), **changes, "course_id": course_id}
        )
        return course

    return _upsert_one(use_case, CourseId(course_id), changed)


def _upsert_one(
    use_case: UpsertCourses, course_id: CourseId, replacement: Callable[[Course | None], Course]
) -> dict[str, object]:
    try:
        course = use_case.write_one(course_id, replacement)
    except InvalidCourses as error:  # one course: no index to name, as for its body's fields
        raise InvalidCourses([{**p, "index": None} for p in error.problems]) from None
    required_by = use_case.still_required_by([course]).get(course.course_id)
    return (
        course_json(course)
        | ({"still_required_by": required_by} if required_by else {})
        | _warnings(use_case, [course])
    )


def _warnings(use_case: UpsertCourses, courses: list[Course]) -> dict[str, object]:
    """{"warnings": [...]} when `courses` take part in closed prerequisites, else {}."""
    closed = use_case.closed_prerequisites(courses)
    warnings = [
        {"course_id": c.course_id, "prerequisite": c.prerequisite, "message": c.message}
        for c in closed
    ]
    return {"warnings": warnings} if warnings else {}


def _course_body(course_id: str) -> dict[str, object]:
    no_query()
    body = json_body()
    if not isinstance(body, dict):
        raise BadRequest("the body must be a course object")
    if body.get("course_id") not in (None, course_id):
        raise BadRequest("course_id in the body does not match the path", "id_mismatch")
    return body


@bp.post("")
@documented(
    "Create or replace many courses; for those left inactive that active courses still name "
    "as a prerequisite, the answer says which (still_required_by); courses requiring a retired "
    "course, or one not in the catalog, are named in warnings",
    UpsertResultSchema,
    body=CourseBatchSchema,
    errors=WRITE_ERRORS,
)
@admin_required
@inject
def post_courses(use_case: UpsertCourses = Provide[Container.upsert_courses]):  # type: ignore[no-untyped-def]
    no_query()
    body = json_body()
    if not isinstance(body, dict):
        raise BadRequest('the body must be {"courses": [...]}')
    courses = CourseBatchSchema().load(body)["courses"]
    upserted = use_case.execute(courses)
    required_by = use_case.still_required_by(courses)
    return (
        {"upserted": upserted}
        | ({"still_required_by": required_by} if required_by else {})
        | _warnings(use_case, courses)
    )
