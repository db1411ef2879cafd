"""Entities and value objects: courses, learner events, recommendations and served slates."""

from __future__ import annotations

import enum
import functools
from collections.abc import Collection, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import NewType

CourseId = NewType("CourseId", str)
UserId = NewType("UserId", str)
RecommendationId = NewType("RecommendationId", str)


class Level(enum.Enum):
    BEGINNER = "beginner"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"

    @property
    def step(self) -> int:
        """0 for beginner, 1 for intermediate, 2 for advanced."""
        return _LEVEL_STEPS[self]


class EventType(enum.Enum):
    """A learner's action on a course; members are declared in increasing reward order."""

    VIEW = "view"
    CLICK = "click"
    ENROLL = "enroll"
    COMPLETE = "complete"

    @property
    def strength(self) -> int:
        """Reward order: complete (3) > enroll (2) > click (1) > view (0)."""
        return _STRENGTHS[self]

    @property
    def past_tense(self) -> str:
        """How a reason tells the learner what they did: "Similar to X, which you completed"."""
        return {
            "view": "viewed",
            "click": "looked at",
            "enroll": "enrolled in",
            "complete": "completed",
        }[self.value]

    @property
    def takes_the_course(self) -> bool:
        """Enrolling in or completing a course means it must never be recommended again."""
        return self in (EventType.ENROLL, EventType.COMPLETE)


# Looked up per event on the request path: a dict, not a scan of the enum.
_LEVEL_STEPS = {level: step for step, level in enumerate(Level)}
_STRENGTHS = {event: strength for strength, event in enumerate(EventType)}

DEFAULT_EVENT_WEIGHTS: dict[EventType, float] = {
    EventType.VIEW: 1.0,
    EventType.CLICK: 2.0,
    EventType.ENROLL: 4.0,
    EventType.COMPLETE: 6.0,
}


@dataclass(frozen=True, slots=True)
class Course:
    course_id: CourseId
    title: str
    description: str = ""
    category: str = ""
    level: Level = Level.BEGINNER
    tags: tuple[str, ...] = ()
    prerequisites: tuple[CourseId, ...] = ()
    active: bool = True

    def text(self) -> str:
        """Everything a learner reads about the course, for content similarity."""
        return " ".join([self.title, self.description, self.category, self.level.value, *self.tags])


@dataclass(frozen=True, slots=True)
class Interaction:
    event_id: str
    user_id: UserId
    course_id: CourseId
    event_type: EventType
    occurred_at: datetime
    recommendation_id: RecommendationId | None = None
    #: The client sent no time, so occurred_at is when the service received the event: a retry
    #: then arrives with a later time and is still the same event.
    time_of_arrival: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            object.__setattr__(self, "occurred_at", self.occurred_at.replace(tzinfo=UTC))


@dataclass(frozen=True)
class LearnerHistory:
    """Everything one learner did, oldest first; empty for a learner we have never seen.

    Not slotted, so the derived views below are computed once per history (a request asks for
    them once per candidate course)."""

    user_id: UserId
    events: tuple[Interaction, ...] = ()

    @property
    def is_new(self) -> bool:
        return not self.events

    @functools.cached_property
    def _strongest(self) -> dict[CourseId, EventType]:
        best: dict[CourseId, EventType] = {}
        for event in self.events:
            current = best.get(event.course_id)
            if current is None or event.event_type.strength > current.strength:
                best[event.course_id] = event.event_type
        return best

    def strongest(self) -> dict[CourseId, EventType]:
        """The strongest event per course the learner touched, in the order first touched
        (shared: do not modify)."""
        return self._strongest

    @functools.cached_property
    def _taken(self) -> frozenset[CourseId]:
        return frozenset(c for c, e in self._strongest.items() if e.takes_the_course)

    def taken(self) -> frozenset[CourseId]:
        """Courses the learner enrolled in or completed."""
        return self._taken

    def seen(self) -> frozenset[CourseId]:
        return frozenset(e.course_id for e in self.events)

    def missing_prerequisites(self, course: Course) -> tuple[CourseId, ...]:
        """Prerequisites of `course` the learner has neither completed nor enrolled in."""
        taken = self.taken()
        return tuple(p for p in course.prerequisites if p not in taken)

    def to_take_before(
        self, course: Course, catalog: Mapping[CourseId, Course]
    ) -> tuple[CourseId, ...]:
        """The courses the learner would have to take before `course` (its prerequisites they
        have not taken, and those of these, and so on), each after its own: Basics, then
        Intermediate, before Advanced."""
        order: list[CourseId] = []
        seen = {course.course_id}  # a cycle stored in the database ends here

        def visit(needing: Course) -> None:
            for course_id in self.missing_prerequisites(needing):
                if course_id not in seen:
                    seen.add(course_id)
                    if (prerequisite := catalog.get(course_id)) is not None:
                        visit(prerequisite)
                    order.append(course_id)

        visit(course)
        return tuple(order)

    def needed_before(self, course: Course, catalog: Mapping[CourseId, Course]) -> set[CourseId]:
        """to_take_before(), in no order."""
        return set(self.to_take_before(course, catalog))

    def out_of_reach(self, course: Course, catalog: Mapping[CourseId, Course]) -> CourseId | None:
        """A course the learner would have to take before `course` (a prerequisite not taken, or
        one of its own, and so on) that cannot be taken any more: inactive or gone from the
        catalog. None when every course the path to `course` still needs is offered."""
        needed, seen = list(self.missing_prerequisites(course)), set()
        while needed:
            course_id = needed.pop(0)  # the nearest first: the one the learner meets first
            if course_id in seen:  # upserts refuse cycles; a stored one must not loop here
                continue
            seen.add(course_id)
            prerequisite = catalog.get(course_id)
            if prerequisite is None or not prerequisite.active:
                return course_id
            needed += self.missing_prerequisites(prerequisite)
        return None

    def completed_since(self, moment: datetime) -> dict[CourseId, datetime]:
        """Courses completed at or after `moment`, with when."""
        return {
            e.course_id: e.occurred_at
            for e in self.events
            if e.event_type is EventType.COMPLETE and e.occurred_at >= moment
        }

    def level_in(self, category: str, catalog: Mapping[CourseId, Course]) -> Level | None:
        """The highest level the learner took (enrolled or completed) in a category, if any."""
        steps = [
            catalog[c].level
            for c in self.taken()
            if c in catalog and catalog[c].category == category
        ]
        return max(steps, key=lambda level: level.step) if steps else None


class Excluded(AbstractSet[CourseId]):
    """Courses a list leaves out: a request's own few (`own`: what the learner took) and sets
    every request shares (the catalog's inactive courses, what a filter leaves out, most of a
    large catalog for a narrow filter). A set that asks its parts: making one copies none of
    the shared sets (at 100,000 courses their union cost a narrow filter's request 9 ms), and
    `shared` names them, so that a strategy may keep what it works out of one (its rows) from
    request to request rather than walk it each time. Courses added with `|` join `own` and the
    shared sets stay shared: the popular courses completing a list are asked without the
    list's courses too."""

    __slots__ = ("own", "shared", "_size")

    def __init__(self, own: AbstractSet[CourseId] = frozenset(), *shared: AbstractSet[CourseId]):
        self.own = frozenset(own)
        #: no filter is an empty set: nothing to keep
        self.shared = tuple(s for s in shared if s)
        self._size: int | None = None

    def __contains__(self, course_id: object) -> bool:
        return course_id in self.own or any(course_id in s for s in self.shared)

    def __iter__(self) -> Iterator[CourseId]:
        parts = (self.own, *self.shared)
        for at, part in enumerate(parts):
            before = parts[:at]
            yield from (c for c in part if not any(c in p for p in before))

    def __len__(self) -> int:
        if self._size is None:  # a walk of every part: asked by no request
            self._size = sum(1 for _ in self)
        return self._size

    def __bool__(self) -> bool:
        return bool(self.own or self.shared)

    def __or__(self, other: object) -> Excluded:
        if isinstance(other, Excluded):
            return Excluded(self.own | other.own, *self.shared, *other.shared)
        if not isinstance(other, AbstractSet):
            return NotImplemented
        return Excluded(self.own | other, *self.shared)

    __ror__ = __or__
    __hash__ = AbstractSet._hash

    @classmethod
    def _from_iterable(cls, courses: Iterable[CourseId]) -> Excluded:
        return cls(frozenset(courses))  # what &, - and ^ give: a set of their own

    def __reduce__(self) -> tuple[type[Excluded], tuple[AbstractSet[CourseId], ...]]:
        return Excluded, (self.own, *self.shared)

    def __repr__(self) -> str:
        return f"Excluded({set(self.own)!r}, {len(self.shared)} shared)"


class Outside(AbstractSet[CourseId]):
    """The courses of a catalog (`catalog`: its ids, or the mapping itself) that a filter leaves
    out, held as the courses it keeps (`kept`, all of them in the catalog): a narrow filter
    keeps a few hundred courses of 100,000 and leaves out the rest, which a strategy finds the
    rows of from the few (looking up the rest one by one took 35 ms a strategy at 100,000)."""

    __slots__ = ("catalog", "kept")

    def __init__(self, catalog: Collection[CourseId], kept: AbstractSet[CourseId]) -> None:
        self.catalog = catalog
        self.kept = kept

    def __contains__(self, course_id: object) -> bool:
        return course_id in self.catalog and course_id not in self.kept

    def __iter__(self) -> Iterator[CourseId]:
        return (c for c in self.catalog if c not in self.kept)

    def __len__(self) -> int:
        return len(self.catalog) - len(self.kept)  # every kept course is in the catalog

    __hash__ = AbstractSet._hash

    @classmethod
    def _from_iterable(cls, courses: Iterable[CourseId]) -> frozenset[CourseId]:  # type: ignore[override]
        return frozenset(courses)

    def __repr__(self) -> str:
        return f"Outside({len(self.catalog)} courses, {len(self.kept)} kept)"


@dataclass(frozen=True, slots=True)
class Recommendation:
    course_id: CourseId
    score: float
    rank: int
    strategy: str
    reason: str = ""
    #: the strategy whose evidence the reason cites (a hybrid's strongest component)
    via: str = ""


@dataclass(frozen=True, slots=True)
class Slate:
    """A list of recommendations served to one learner, kept so later events can be attributed."""

    recommendation_id: RecommendationId
    user_id: UserId
    strategy: str
    items: tuple[Recommendation, ...]
    served_at: datetime
    model_version: str | None = None
    fallback_from: str | None = None
    #: who picked the strategy: "bandit" (strategy=auto), "request" or "default"; the bandit
    #: learns only from the slates it chose
    selected_by: str | None = None


@dataclass(frozen=True, slots=True)
class ArmStats:
    pulls: int = 0
    reward_sum: float = 0.0
    last_update: datetime | None = None

    @property
    def mean(self) -> float:
        return self.reward_sum / self.pulls if self.pulls else 0.0

    def add(self, pulls: int, rewards: float, when: datetime | None) -> ArmStats:
        return replace(
            self, pulls=self.pulls + pulls, reward_sum=self.reward_sum + rewards, last_update=when
        )
