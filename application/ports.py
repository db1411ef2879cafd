"""Storage ports: repositories and the unit of work that makes writes all-or-nothing."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Sequence

from application.evaluation.dataset import Dataset
from domain.model import (
    Course,
    CourseId,
    Interaction,
    LearnerHistory,
    RecommendationId,
    Slate,
    UserId,
)


class CourseRepository(abc.ABC):
    @abc.abstractmethod
    def get(self, course_id: CourseId) -> Course | None: ...

    @abc.abstractmethod
    def page(self, limit: int, offset: int) -> list[Course]:
        """Courses ordered by course_id."""

    @abc.abstractmethod
    def count(self) -> int: ...

    @abc.abstractmethod
    def all(self) -> list[Course]:
        """The whole catalog, ordered by course_id (catalogs are thousands, not millions)."""

    @abc.abstractmethod
    def upsert(self, courses: Sequence[Course]) -> None:
        """Insert new courses and replace existing ones with the same course_id."""

    @abc.abstractmethod
    def existing(self, course_ids: Iterable[CourseId]) -> set[CourseId]:
        """The subset of `course_ids` that are in the catalog."""

    @abc.abstractmethod
    def version(self) -> str:
        """A cheap fingerprint that changes whenever the catalog changes."""


class InteractionRepository(abc.ABC):
    @abc.abstractmethod
    def add_batch(self, events: Sequence[Interaction]) -> int:
        """Store events in one round trip; events whose event_id is stored already are skipped.

        Returns how many were new.
        """

    @abc.abstractmethod
    def history(self, user_id: UserId) -> LearnerHistory:
        """All events of one learner, oldest first."""

    @abc.abstractmethod
    def stream(self, batch_size: int = 10_000) -> Iterator[Interaction]:
        """Every event, oldest first, fetched `batch_size` rows at a time."""

    @abc.abstractmethod
    def count(self) -> int: ...

    @abc.abstractmethod
    def version(self) -> str:
        """A cheap fingerprint that changes whenever events are added."""


class SlateRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, slate: Slate) -> None: ...

    @abc.abstractmethod
    def get(self, recommendation_id: RecommendationId) -> Slate | None: ...

    @abc.abstractmethod
    def existing(self, ids: Iterable[RecommendationId]) -> set[RecommendationId]: ...


class DatasetSource(abc.ABC):
    """Where an evaluation dataset comes from (a directory of files in a known format)."""

    @abc.abstractmethod
    def load(self) -> Dataset:
        """The whole dataset; raises DatasetError when it cannot be read."""


class UnitOfWork(abc.ABC):
    """`with uow: ...; uow.commit()` - anything not committed is rolled back on exit."""

    courses: CourseRepository
    interactions: InteractionRepository
    slates: SlateRepository

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(self, *args: object) -> None:
        self.rollback()

    @abc.abstractmethod
    def commit(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None: ...

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise if the storage cannot be reached."""
