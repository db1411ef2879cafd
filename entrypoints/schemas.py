"""Marshmallow schemas: what the API and the file importers accept, and what the API returns."""

from __future__ import annotations

import hashlib
import re
import sys
from datetime import UTC, datetime
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from domain.model import Course, CourseId, EventType, Interaction, Level, RecommendationId, UserId

#: What an id may not hold: control and format characters, separators other than the space
#: (Unicode 14's Cc, Cf, Zs, Zl, Zp). Spelt out rather than str.isprintable(), so the OpenAPI
#: document can say it (regex engines know no "printable"); unlike isprintable() it lets
#: private-use and unassigned code points through, which show as a glyph or a box: listing their
#: 137,000 code points makes schemathesis' string generation minutes slower. Lone surrogates are
#: refused apart: only Python's regex engine can name them, and no JSON body or URL holds one.
_HIDDEN = (
    r"\u0000-\u001f\u007f-\u00a0\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2"
    r"\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u2066-\u206f\u3000"
    r"\ufeff\ufff9-\ufffb"
    # Beyond the BMP as the characters themselves: JSON Schema's regex dialect has no \U escape.
    "\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
#: 1 to 128 characters that show (the length is checked apart), no space at either end.
ID_PATTERN = rf"^[^{_HIDDEN} ](?:[^{_HIDDEN}]*[^{_HIDDEN} ])?$"
_ID = re.compile(ID_PATTERN)


def _identifier(value: str) -> None:
    # fullmatch: "$" alone would let a trailing newline through
    surrogate = any("\ud800" <= ch <= "\udfff" for ch in value)
    if not 1 <= len(value) <= 128 or not _ID.fullmatch(value) or surrogate:
        raise ValidationError("must be 1 to 128 printable characters without surrounding spaces")


def _no_nul(value: str) -> None:
    if "\x00" in value:
        raise ValidationError("must not contain NUL characters")
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        # A lone surrogate is not Unicode text: PostgreSQL refuses it, and tokenisers choke on it.
        raise ValidationError("must not contain lone surrogates (not Unicode text)")


def _not_blank(value: str) -> None:
    if value and not value.strip():  # empty stays what the field's length allows
        raise ValidationError("must not be blank (only spaces)")


def _one_line(value: str) -> None:
    if "\n" in value.strip() or "\r" in value.strip():
        raise ValidationError(
            "must be one line (in a CSV file, a quote left open takes in the lines after it)"
        )


def Text(**kwargs: Any) -> fields.String:  # noqa: N802 - reads like a field class
    """Free text: any length limits come from the caller; NUL and lone surrogates never reach the
    database (the CLI's importers parse files without going through the API's body checks)."""
    extra = kwargs.pop("validate", None)
    checks = [_no_nul, *(extra if isinstance(extra, list) else [extra] if extra else [])]
    return fields.String(validate=checks, **kwargs)


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


class EventTime(fields.AwareDateTime):
    """An aware timestamp from 1970 on: a naive one is refused, not guessed to be UTC.

    How far into the future it may lie is LogInteractions' rule (RS_MAX_CLOCK_SKEW)."""

    default_error_messages = {
        "invalid_awareness": "must include a timezone offset, e.g. 2026-11-01T10:00:00Z"
    }

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        if isinstance(value, str):  # RFC 3339 (the document's date-time) allows "t" and "z"
            value = value.upper()
        try:
            moment = super()._deserialize(value, attr, data, **kwargs).astimezone(UTC)
        except (OverflowError, OSError):
            raise ValidationError("is not a representable date and time") from None
        if moment < EARLIEST:
            raise ValidationError("must not lie before 1970")
        return moment


class JsonBoolean(fields.Boolean):
    """true or false only: marshmallow's Boolean also takes 0, 1, "no", "on" ..., which a JSON
    body has no need to send and the document (type boolean) does not allow."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class QueryInteger(fields.Integer):
    """A query parameter's whole number in ASCII digits: int() also takes "1_0", " 7" and "１０"
    (full-width digits), which the document (type integer) does not allow, as the weights'
    numbers do not."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int:
        if isinstance(value, str) and not re.fullmatch(r"-?[0-9]+", value, re.ASCII):
            raise self.make_error("invalid", input=value)
        return int(super()._deserialize(value, attr, data, **kwargs))


BOOLEAN_SPELLINGS = "true or false, in any case, or 1 or 0"


class QueryBoolean(fields.Boolean):
    """A query parameter's true or false, as the document says it. marshmallow's Boolean also
    takes "yes", "on", "t", "n" ..., which the document does not name, each parameter read its
    own way had it been parsed by hand, and a typo may match. Any case: Python's requests sends
    True as "True"."""

    truthy = {"true", "1"}
    falsy = {"false", "0"}
    default_error_messages = {"invalid": f"must be {BOOLEAN_SPELLINGS}"}

    def __init__(self, description: str) -> None:
        described = f"{description} ({BOOLEAN_SPELLINGS}; anything else is a 400)"
        super().__init__(load_default=False, metadata={"description": described})

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        spelled = value.lower() if isinstance(value, str) else value
        return bool(super()._deserialize(spelled, attr, data, **kwargs))


#: The strategies a request may name (the container's registry; a test keeps them equal).
STRATEGIES = ("content", "hybrid", "item_cf", "popularity", "sequence", "two_tower")


def Strategy(names: tuple[str, ...] = STRATEGIES) -> fields.String:  # noqa: N802
    """The strategy parameter: the use case refuses another name with a 400 listing the valid
    ones; the document lists them here."""
    return fields.String(
        load_default=None, validate=validate.Length(1, 64), metadata={"enum": list(names)}
    )


#: _identifier's rule as the OpenAPI document states it.
ID_RULE = {"minLength": 1, "maxLength": 128, "pattern": ID_PATTERN}


def Identifier(**kwargs: Any) -> fields.String:  # noqa: N802 - reads like a field class
    metadata = ID_RULE | kwargs.pop("metadata", {})
    return fields.String(validate=_identifier, metadata=metadata, **kwargs)


#: a course's limits, as requests are held to them and as answers document them
TITLE_LENGTH = validate.Length(1, 300)
DESCRIPTION_LENGTH = validate.Length(max=10_000)
CATEGORY_LENGTH = validate.Length(max=128)
TAG_LENGTH = validate.Length(1, 64)
LIST_LENGTH = validate.Length(max=50)  # tags, prerequisites


class CourseSchema(Schema):
    class Meta:
        unknown = RAISE

    course_id = Identifier(required=True)
    title = Text(required=True, validate=[TITLE_LENGTH, _not_blank, _one_line])
    description = Text(load_default="", validate=DESCRIPTION_LENGTH)
    category = Text(load_default="", validate=[CATEGORY_LENGTH, _not_blank, _one_line])
    level = fields.Enum(Level, by_value=True, load_default=Level.BEGINNER)
    tags = fields.List(
        Text(validate=[TAG_LENGTH, _not_blank, _one_line]),
        load_default=list,
        validate=LIST_LENGTH,
    )
    prerequisites = fields.List(Identifier(), load_default=list, validate=LIST_LENGTH)
    active = JsonBoolean(load_default=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Course:
        return Course(
            course_id=CourseId(data["course_id"]),
            # spaces around are the sender's (a CSV cell, a form), not the title's: reasons
            # quote it ("Similar to  Python Basics ")
            title=data["title"].strip(),
            description=data["description"],
            # " Programming " is Programming: courses are grouped, filtered and ranked by it
            category=data["category"].strip(),
            level=data["level"],
            # A tag or prerequisite named twice counts once (first place kept), not twice; " sql"
            # is the tag sql.
            tags=tuple(dict.fromkeys(tag.strip() for tag in data["tags"])),
            prerequisites=tuple(dict.fromkeys(CourseId(p) for p in data["prerequisites"])),
            active=data["active"],
        )


class CourseBodySchema(CourseSchema):
    """PUT /courses/<id>: the id comes from the path."""

    course_id = Identifier(load_default=None)


class CoursePatchSchema(CourseSchema):
    """PATCH /courses/<id>: any subset of the fields; the others keep their stored values."""

    course_id = Identifier(load_default=None)
    title = Text(validate=[TITLE_LENGTH, _not_blank, _one_line])


class StoredCourseSchema(Schema):
    """A course as the API answers with it (course_json): every field, always, with the
    defaults a request may leave out filled in."""

    class Meta:
        unknown = RAISE

    course_id = Identifier(required=True)
    title = fields.String(required=True, validate=TITLE_LENGTH)
    description = fields.String(required=True, validate=DESCRIPTION_LENGTH)
    category = fields.String(required=True, validate=CATEGORY_LENGTH)
    level = fields.Enum(Level, by_value=True, required=True)
    tags = fields.List(fields.String(validate=TAG_LENGTH), required=True, validate=LIST_LENGTH)
    prerequisites = fields.List(Identifier(), required=True, validate=LIST_LENGTH)
    active = fields.Boolean(required=True)


class ClosedPrerequisiteSchema(Schema):
    course_id = Identifier(required=True, metadata={"description": "an active course"})
    prerequisite = Identifier(
        required=True,
        metadata={"description": "a course it requires that is retired or not in the catalog"},
    )
    message = fields.String(
        required=True,
        metadata={"description": "only learners who took the prerequisite are recommended it"},
    )


def _warnings() -> fields.List:
    """A write's warnings, present only when there are some."""
    return fields.List(
        fields.Nested(ClosedPrerequisiteSchema),
        metadata={
            "description": "Only when the courses written (or those requiring one left "
            "inactive) require a course that is retired or not in the catalog: each such pair. "
            "Learners who "
            "have not taken that course are never recommended the one requiring it."
        },
    )


class CourseWrittenSchema(StoredCourseSchema):
    """PUT and PATCH /courses/<id>: the course as stored, for an inactive one what needs it, and
    what now requires a course learners can no longer take."""

    still_required_by = fields.List(
        Identifier(),
        metadata={
            "description": "Only for an inactive course that active courses name as a "
            "prerequisite: those courses, which are no longer recommended to learners who have "
            "not taken this one (they could not start them)"
        },
    )
    warnings = _warnings()


class CourseBatchSchema(Schema):
    courses = fields.List(
        fields.Nested(CourseSchema), required=True, validate=validate.Length(1, 5_000)
    )

    @validates_schema
    def once_each(self, data: dict[str, Any], **_: Any) -> None:
        """A course twice in one batch is refused: which of the two to keep would be a guess."""
        first: dict[str, int] = {}
        for index, course in enumerate(data["courses"]):
            seen = first.setdefault(course.course_id, index)
            if seen != index:
                message = f"repeats course {course.course_id!r} of course {seen}"
                raise ValidationError({"courses": {index: {"course_id": [message]}}})


class EventSchema(Schema):
    class Meta:
        unknown = RAISE

    event_id = Identifier(
        load_default=None,
        metadata={
            "description": "Idempotency key: send one to retry safely. Without it an id is derived "
            "from user, course, type and time, so an event without occurred_at counts anew"
        },
    )
    user_id = Identifier(required=True)
    course_id = Identifier(required=True)
    event_type = fields.Enum(EventType, by_value=True, required=True)
    occurred_at = EventTime(
        load_default=None,
        metadata={
            "description": "With a timezone; at most RS_MAX_CLOCK_SKEW in the future. Defaults to "
            "when the service receives the event: a retry (same event_id, other fields equal) is "
            "then a duplicate and keeps the first time"
        },
    )
    recommendation_id = Identifier(load_default=None, allow_none=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Interaction:
        occurred_at = data["occurred_at"] or datetime.now(UTC)
        event_id = data["event_id"] or _derived_event_id(data, occurred_at)
        return Interaction(
            event_id=event_id,
            # one string per learner and course, not per event: `eval --dataset csv` holds every
            # event it reads (a third less memory)
            user_id=UserId(sys.intern(data["user_id"])),
            course_id=CourseId(sys.intern(data["course_id"])),
            event_type=data["event_type"],
            occurred_at=occurred_at.astimezone(UTC),
            recommendation_id=RecommendationId(data["recommendation_id"])
            if data["recommendation_id"]
            else None,
            time_of_arrival=data["occurred_at"] is None,
        )


def _derived_event_id(data: dict[str, Any], occurred_at: datetime) -> str:
    """A retried event without an id maps to the same id, so it is not counted twice."""
    key = f"{data['user_id']}|{data['course_id']}|{data['event_type'].value}|{occurred_at.isoformat()}"
    return "evt-" + hashlib.sha256(key.encode()).hexdigest()[:32]


MAX_EVENTS = 1_000


class EventBatchSchema(Schema):
    events = fields.List(
        fields.Nested(EventSchema), required=True, validate=validate.Length(1, MAX_EVENTS)
    )


class NoQuerySchema(Schema):
    """For endpoints that take no query parameters: any one sent is a 400, as elsewhere."""


class PageQuerySchema(Schema):
    limit = QueryInteger(load_default=50, validate=validate.Range(1, 1_000))
    offset = QueryInteger(load_default=0, validate=validate.Range(0, 2**31 - 1))


class KQuerySchema(Schema):
    k = QueryInteger(load_default=10, validate=validate.Range(1, 100))
    strategy = Strategy()
    explain = QueryBoolean("adds to each item the reason it is recommended")


def weights_field(description: str) -> fields.String:
    """Per-request hybrid weights, as `parse_weights` reads them."""
    return fields.String(
        load_default=None, validate=validate.Length(1, 200), metadata={"description": description}
    )


class HomeQuerySchema(KQuerySchema):
    user_id = Identifier(required=True)
    strategy = Strategy((*STRATEGIES, "auto"))
    weights = weights_field(
        "hybrid weights for this request, e.g. two_tower:0.6,content:0.4 (strategy hybrid "
        "only, asked or default)"
    )
    strict_prerequisites = QueryBoolean(
        "removes, rather than demotes, courses whose prerequisites the learner has not taken"
    )
    category = fields.String(load_default=None, validate=validate.Length(1, 128))
    level = fields.Enum(Level, by_value=True, load_default=None)


class RecommendedCourseSchema(Schema):
    course_id = fields.String(required=True)
    title = fields.String(required=True)
    score = fields.Float(required=True)
    rank = fields.Integer(required=True)
    reason = fields.String(metadata={"description": "Only with explain=true"})


class HomeResponseSchema(Schema):
    user_id = fields.String(required=True)
    strategy = fields.String(required=True, metadata={"description": "The strategy that answered"})
    fallback_from = fields.String(
        metadata={"description": "The strategy asked for, when it could not answer"}
    )
    recommendation_id = fields.String(
        metadata={
            "description": "The id the list is recorded under: send it back with events to "
            "attribute them. Absent when nothing was recorded: an empty list (no course may be "
            "recommended to the learner; nothing to attribute), a degraded answer, or a list "
            "made while its learner was being erased (or within 10 s of their erasure by "
            "another process)"
        }
    )
    model_version = fields.String(
        metadata={"description": "The published version that answered (model strategies)"}
    )
    selected_by = fields.String(
        metadata={
            "description": '"bandit" when strategy=auto let the bandit choose (absent when only '
            "one strategy can answer the learner, as popularity alone can a new learner)"
        }
    )
    degraded = fields.Boolean(
        metadata={
            "description": "true: the database was unreachable, so the answer was not "
            "recorded (no recommendation_id) and, when the learner's history could not be "
            "read either, ignores it"
        }
    )
    history_unknown = fields.Boolean(
        metadata={
            "description": "true (degraded answers only): neither the database nor this worker's "
            "memory of the learners it served lately gave the learner's history, so the list may "
            "offer courses they already took; leave out those the LMS knows they took"
        }
    )
    items = fields.List(fields.Nested(RecommendedCourseSchema), required=True)


class SimilarResponseSchema(Schema):
    course_id = fields.String(required=True)
    strategy = fields.String(required=True, metadata={"description": "The strategy that answered"})
    fallback_from = fields.String(
        metadata={"description": "The strategy asked for, when it could not answer"}
    )
    model_version = fields.String(
        metadata={"description": "The published version that answered (model strategies)"}
    )
    items = fields.List(fields.Nested(RecommendedCourseSchema), required=True)


class CourseListSchema(Schema):
    items = fields.List(fields.Nested(StoredCourseSchema), required=True)
    total = fields.Integer(required=True)


class LogResultSchema(Schema):
    accepted = fields.Integer(required=True, metadata={"description": "events stored"})
    duplicates = fields.Integer(
        required=True, metadata={"description": "events stored before (a retry)"}
    )
    ignored = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={
            "description": "reason -> events not stored: 'happened before the learner was "
            "erased' (a replay of what an erasure removed; as xAPI statements are ignored)"
        },
    )


class UpsertResultSchema(Schema):
    upserted = fields.Integer(required=True)
    still_required_by = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={
            "description": "Only when the batch leaves courses inactive that active courses "
            "name as a prerequisite: each such course -> those courses, which are no longer "
            "recommended to learners who have not taken it (they could not start them)"
        },
    )
    warnings = _warnings()


#: The ids a URL path may hold, checked like every other id (the app checks each request's).
PATH_IDS = ("user_id", "course_id", "job_id")


def path_id(value: str, name: str = "user_id") -> str:
    """An id from the URL path, checked like every other id: PostgreSQL refuses a NUL in text,
    and a 5,000-character id is a mistake, not something to look up."""
    try:
        _identifier(value)
    except ValidationError as error:
        raise ValidationError({name: error.messages}) from None
    return value


class StatusSchema(Schema):
    status = fields.String(required=True)


class ProblemSchema(Schema):
    index = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "position in the batch, null for one item"},
    )
    field = fields.String(
        required=True, metadata={"description": "a place in a list is part of it: tags[2]"}
    )
    message = fields.String(required=True)


class ErrorBodySchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    problems = fields.List(
        fields.Nested(ProblemSchema), metadata={"description": "every invalid field (400)"}
    )
    valid = fields.List(
        fields.String(), metadata={"description": "the values accepted (invalid strategy, filter)"}
    )
    field = fields.String(metadata={"description": "the filter at fault (invalid_filter)"})
    cycle = fields.List(
        fields.String(), metadata={"description": "prerequisite_cycle: [a, b, ..., a]"}
    )
    event_id = fields.String(metadata={"description": "event_conflict: the event reused"})
    fields_ = fields.List(
        fields.String(),
        data_key="fields",
        metadata={"description": "event_conflict: the fields that differ"},
    )
    indexes = fields.List(
        fields.Integer(),
        metadata={"description": "event_conflict within one batch: the two events' positions"},
    )
    missing = fields.List(
        fields.String(), metadata={"description": "not_ready: strategies with nothing loaded"}
    )
    statement_ids = fields.List(
        fields.String(),
        metadata={
            "description": "statement_conflict: the xAPI statements stored with other content"
        },
    )


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


def course_json(course: Course) -> dict[str, Any]:
    return {
        "course_id": course.course_id,
        "title": course.title,
        "description": course.description,
        "category": course.category,
        "level": course.level.value,
        "tags": list(course.tags),
        "prerequisites": list(course.prerequisites),
        "active": course.active,
    }


#: marshmallow's words for an item that is no object, as a client reads them
_WHOLE_ITEM = {
    "Invalid input type.": "must be an object",
    "Field may not be null.": "must be an object, not null",
}


def problems(messages: Any, prefix: str = "") -> list[dict[str, Any]]:
    """Flatten marshmallow's nested error dict into [{index, field, message}]: the index is the
    item's position in the `prefix` batch ("courses.3.title" is course 3, field title); a position
    inside an item stays in the field ("tags.2" reads as field tags[2])."""
    found: list[dict[str, Any]] = []

    def walk(node: Any, path: list[str | int]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, [*path, key])
        elif isinstance(node, list) and all(isinstance(m, str) for m in node):
            index = None
            if prefix and path[:1] == [prefix] and len(path) > 1 and isinstance(path[1], int):
                index, path = path[1], path[2:]
            if path[-1:] == ["_schema"]:  # marshmallow's key for an object as a whole
                path = path[:-1]
            if not path:  # the item itself, e.g. a number or null where an object belongs
                path, node = [prefix], [_WHOLE_ITEM.get(m, m) for m in node]
            field = "".join(
                f"[{p}]" if isinstance(p, int) else f".{p}" if n else p for n, p in enumerate(path)
            )
            found.append({"index": index, "field": field, "message": "; ".join(node)})
        else:
            for value in node:
                walk(value, path)

    walk(messages, [])
    return found
