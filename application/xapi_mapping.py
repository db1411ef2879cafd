"""How xAPI verbs become our event types and activity IRIs become course ids."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from application.xapi_statements import VOIDED, is_iri
from domain.model import CourseId, EventType


class InvalidMapping(ValueError):
    """The mapping file says something the service cannot use."""


#: what a section's name looks like
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class ActivityRule:
    """An activity IRI matching `pattern` is the course `course` with the pattern's named groups
    filled in, e.g. pattern '/course/view\\.php\\?id=(?P<id>\\d+)$' and course 'moodle-{id}'."""

    pattern: re.Pattern[str]
    course: str

    def course_for(self, iri: str) -> CourseId | None:
        found = self.pattern.search(iri)
        return CourseId(self.course.format(**found.groupdict())) if found else None


@dataclass(frozen=True)
class XapiMapping:
    """verbs: verb IRI -> event type, or None for "acknowledge and ignore".
    activities: exact activity IRI -> course id. rules: tried in order after `activities`.
    last_path_segment: an IRI whose last path segment is a catalog course id is that course.
    context_event: a statement about a part of a course (a module, a quiz) that names the course
    in its context's parent or grouping activities counts for the course, as at most this event
    type (completing a module is not completing the course); None: such statements are ignored.
    qualify_accounts: learner ids are name@homePage instead of the account name alone."""

    verbs: Mapping[str, EventType | None]
    activities: Mapping[str, CourseId] = field(default_factory=dict)
    rules: tuple[ActivityRule, ...] = ()
    last_path_segment: bool = True
    context_event: EventType | None = EventType.VIEW
    qualify_accounts: bool = False

    def event_type(self, verb: str) -> EventType | None:
        return self.verbs.get(verb)

    def candidates(self, iri: str) -> list[CourseId]:
        """Course ids `iri` may stand for, most specific first (the catalog decides which exist)."""
        found: list[CourseId] = []
        if iri in self.activities:
            found.append(self.activities[iri])
        found.extend(c for rule in self.rules if (c := rule.course_for(iri)) is not None)
        if self.last_path_segment:
            segment = last_path_segment(iri)
            if segment:
                found.append(CourseId(segment))
            # The IRI's URI form (RFC 3987) escapes what a URI cannot hold: caf%C3%A9 is café.
            decoded = _unescaped(segment)
            if decoded and decoded != segment:
                found.append(CourseId(decoded))
        return found

    @classmethod
    def from_dict(cls, data: Any) -> XapiMapping:
        """Validated: unknown keys, unknown event types, bad IRIs and bad patterns are errors."""
        if not isinstance(data, dict):
            raise InvalidMapping("the mapping must be a YAML mapping with a 'verbs' section")
        unknown = set(data) - {"verbs", "activities", "actor"}
        if unknown:
            # named when they look like names (a misspelling); a file that is no mapping reads
            # as whole lines (RS_XAPI_MAPPING=/etc/shadow: its password hashes), only counted
            named = sorted(str(k) for k in unknown if _NAME.fullmatch(str(k)))
            if odd := len(unknown) - len(named):
                named.append(f"{odd} that name{'s' * (odd == 1)} no section")
                raise InvalidMapping(
                    f"unknown sections: {', '.join(named)}: is this the xAPI mapping?"
                )
            raise InvalidMapping(f"unknown sections: {', '.join(named)}")
        activities = _section(data, "activities")
        actor = _section(data, "actor")
        _no_unknown(
            activities, "activities", {"ids", "rules", "last_path_segment", "context_event"}
        )
        _no_unknown(actor, "actor", {"qualify_accounts"})
        return cls(
            verbs=_verbs(data.get("verbs")),
            activities=_ids(activities.get("ids") or {}),
            rules=tuple(_rule(r, i) for i, r in enumerate(activities.get("rules") or [])),
            last_path_segment=_flag(activities, "last_path_segment", True),
            context_event=_event(activities.get("context_event", "view"), "context_event"),
            qualify_accounts=_flag(actor, "qualify_accounts", False),
        )


def last_path_segment(iri: str) -> str:
    """'https://lms.example/courses/c1/?x=1#y' -> 'c1' (what urlsplit gives, 5x faster)."""
    rest = iri.split("#", 1)[0].split("?", 1)[0]
    if "://" in rest:  # hierarchical: the path starts after the authority
        rest = rest.split("://", 1)[1]
        rest = rest[rest.find("/") :] if "/" in rest else ""
    else:
        rest = rest.split(":", 1)[-1]
    return rest.rstrip("/").rsplit("/", 1)[-1]


def _unescaped(segment: str) -> str:
    """`segment` with its percent-escapes decoded as UTF-8; "" when that is no course id (no
    UTF-8 text, or %00 and other escapes no catalog id holds: kept off the catalog query)."""
    if "%" not in segment:
        return segment
    try:
        decoded = unquote(segment, errors="strict")
    except UnicodeDecodeError:
        return ""
    return decoded if len(decoded) <= 128 and decoded.isprintable() else ""


def _section(data: dict[str, Any], name: str) -> dict[str, Any]:
    section = data.get(name) or {}
    if not isinstance(section, dict):
        raise InvalidMapping(f"'{name}' must be a mapping")
    return section


def _no_unknown(section: dict[str, Any], name: str, allowed: set[str]) -> None:
    unknown = set(section) - allowed
    if unknown:
        raise InvalidMapping(f"unknown keys in '{name}': {', '.join(sorted(unknown))}")


def _flag(section: dict[str, Any], key: str, default: bool) -> bool:
    value = section.get(key, default)
    if not isinstance(value, bool):
        raise InvalidMapping(f"'{key}' must be true or false")
    return value


def _event(value: Any, where: str) -> EventType | None:
    if value in (None, "ignore"):
        return None
    try:
        return EventType(value)
    except ValueError:
        valid = ", ".join([*(t.value for t in EventType), "ignore"])
        raise InvalidMapping(f"{where}: {value!r} is not one of {valid}") from None


def _verbs(verbs: Any) -> dict[str, EventType | None]:
    if not isinstance(verbs, dict) or not verbs:
        raise InvalidMapping("'verbs' must map verb IRIs to event types")
    mapped: dict[str, EventType | None] = {}
    for iri, kind in verbs.items():
        if not is_iri(iri):
            raise InvalidMapping(f"verbs: {iri!r} is not an IRI")
        if iri == VOIDED:
            raise InvalidMapping(f"verbs: {VOIDED} always voids a statement; it cannot be mapped")
        mapped[iri] = _event(kind, f"verbs: {iri}")
    return mapped


def _ids(ids: Any) -> dict[str, CourseId]:
    if not isinstance(ids, dict):
        raise InvalidMapping("'activities.ids' must map activity IRIs to course ids")
    for iri, course in ids.items():
        if not is_iri(iri) or not isinstance(course, str) or not course:
            raise InvalidMapping(f"activities.ids: {iri!r} -> {course!r} is not IRI -> course id")
    return {iri: CourseId(course) for iri, course in ids.items()}


def _rule(rule: Any, index: int) -> ActivityRule:
    where = f"activities.rules[{index}]"
    if not isinstance(rule, dict) or set(rule) != {"pattern", "course"}:
        raise InvalidMapping(f"{where} must have exactly 'pattern' and 'course'")
    try:
        pattern = re.compile(str(rule["pattern"]))
    except re.error as error:
        raise InvalidMapping(f"{where}.pattern is not a regular expression: {error}") from None
    names = _template_names(str(rule["course"]), where)
    missing = names - set(pattern.groupindex)
    if missing:
        raise InvalidMapping(f"{where}.course uses groups the pattern lacks: {sorted(missing)}")
    return ActivityRule(pattern, str(rule["course"]))


def _template_names(course: str, where: str) -> set[str]:
    """The groups `course` fills in, each written {name}: anything else str.format would read
    ({}, {id.attr}, {id!r}, a lone brace) failed on every statement the rule matched."""
    try:
        fields = [
            (name, spec, conversion)
            for _, name, spec, conversion in string.Formatter().parse(course)
        ]
    except ValueError as error:
        raise InvalidMapping(f"{where}.course is not a template: {error}") from None
    for name, spec, conversion in fields:
        if name is not None and (not name.isidentifier() or spec or conversion):
            raise InvalidMapping(
                f"{where}.course: write a group as {{name}} ({{{{ and }}}} for braces), "
                f"not {{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}"
            )
    return {name for name, _, _ in fields if name is not None}
