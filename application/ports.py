"""Storage ports: repositories and the unit of work that makes writes all-or-nothing."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from application.evaluation.dataset import Dataset
from domain.model import (
    Course,
    CourseId,
    EventType,
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
    def stored(self, event_ids: Iterable[str]) -> dict[str, Interaction]:
        """The stored events among `event_ids`, by event_id (to tell a retry from a conflict)."""

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


@dataclass(frozen=True, slots=True)
class SlateOutcome:
    """A served slate and the strongest event attributed to it (None: nothing happened)."""

    recommendation_id: RecommendationId
    strategy: str
    served_at: datetime
    best_event: EventType | None
    events: int
    selected_by: str | None = None
    fallback_from: str | None = None


class SlateRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, slate: Slate) -> None: ...

    @abc.abstractmethod
    def get(self, recommendation_id: RecommendationId) -> Slate | None: ...

    @abc.abstractmethod
    def existing(self, ids: Iterable[RecommendationId]) -> set[RecommendationId]: ...

    @abc.abstractmethod
    def outcomes(self, after: datetime, until: datetime) -> list[SlateOutcome]:
        """Slates served in (after, until], each with its attributed events, oldest first."""


class DatasetSource(abc.ABC):
    """Where an evaluation dataset comes from (a directory of files in a known format)."""

    @abc.abstractmethod
    def load(self) -> Dataset:
        """The whole dataset; raises DatasetError when it cannot be read."""


@dataclass(frozen=True)
class Artifact:
    """One verified version of a named artifact: its manifest and its files' bytes."""

    name: str
    version: str
    manifest: dict[str, Any]
    files: dict[str, bytes]


class CorruptArtifact(Exception):
    """A version is incomplete or a file does not match its checksum."""


class StorageUnavailable(Exception):
    """The database cannot be reached or did not answer in time; retrying later may work."""


class ArtifactStore(abc.ABC):
    """Versioned artifacts (models, indexes, bandit state): written atomically, verified on load."""

    @abc.abstractmethod
    def publish(self, name: str, files: Mapping[str, bytes], manifest: Mapping[str, Any]) -> str:
        """Write a new version, then point "current" at it in one atomic step; returns the version."""

    @abc.abstractmethod
    def current_version(self, name: str) -> str | None:
        """The version "current" points at (cheap: no file is read but the pointer)."""

    @abc.abstractmethod
    def versions(self, name: str) -> list[str]:
        """Every kept version, newest first."""

    @abc.abstractmethod
    def load(self, name: str, version: str) -> Artifact:
        """A version with every file checked against the manifest; raises CorruptArtifact."""


#: learner -> course -> strongest event type, the input every model trainer learns from
Histories = Mapping[UserId, Mapping[CourseId, EventType]]
#: progress(epoch, epochs, training loss, validation recall@10)
EpochProgress = Callable[[int, int, float, float], None]


class ModelTrainer(abc.ABC):
    """Trains a model and turns it into artifact files (what TrainTwoTower and RebuildIndex drive)."""

    artifact_name: str

    @abc.abstractmethod
    def train(
        self, courses: Sequence[Course], histories: Histories, progress: EpochProgress | None = None
    ) -> tuple[dict[str, bytes], dict[str, Any]]:
        """Train on the catalog and the histories; returns (files, manifest fields)."""

    @abc.abstractmethod
    def reindex(
        self, artifact: Artifact, courses: Sequence[Course], reencode: bool
    ) -> tuple[dict[str, bytes], dict[str, Any]]:
        """The artifact's model with a rebuilt index: over its saved embeddings, or (reencode) over
        fresh embeddings of every course in `courses` computed by the model."""


class JobStore(abc.ABC):
    """Background jobs visible to every worker process: at most one running job per kind."""

    @abc.abstractmethod
    def begin(self, kind: str) -> str | None:
        """A new job id, or None when a job of this kind is running already."""

    @abc.abstractmethod
    def finish(
        self, job_id: str, result: Mapping[str, Any] | None = None, error: str | None = None
    ) -> None: ...

    @abc.abstractmethod
    def get(self, job_id: str) -> dict[str, Any] | None:
        """{"job_id", "kind", "status": running|succeeded|failed, "started_at", "finished_at", "result", "error"}"""


@dataclass(frozen=True, slots=True)
class UserStats:
    user_id: UserId
    num_recommendations: int
    num_impressions: int
    num_clicks: int
    num_enrolls: int
    top_categories: list[tuple[str, int]]

    @property
    def ctr(self) -> float:
        return self.num_clicks / self.num_impressions if self.num_impressions else 0.0


@dataclass(frozen=True, slots=True)
class DailyStats:
    date: str
    strategy: str
    recommendations: int
    impressions: int
    clicks: int
    enrolls: int


@dataclass(frozen=True, slots=True)
class CoursePopularity:
    course_id: CourseId
    title: str
    enrolls: int
    clicks: int


class StatsRepository(abc.ABC):
    """Aggregates computed by the database (GROUP BY over indexed columns), never row by row.

    A click or enrolment counts for a strategy when it carries the recommendation_id of a slate
    that strategy served (attribution); an impression is one course shown in a served slate.
    """

    @abc.abstractmethod
    def user(self, user_id: UserId) -> UserStats: ...

    @abc.abstractmethod
    def daily(self, since: datetime) -> list[DailyStats]:
        """Per UTC day and strategy: slates and impressions served that day, and the attributed
        clicks and enrolments that happened that day."""

    @abc.abstractmethod
    def popular_courses(self, since: datetime, limit: int) -> list[CoursePopularity]:
        """Courses by enrolments (all of them, attributed or not) since `since`, then clicks."""


class UnitOfWork(abc.ABC):
    """`with uow: ...; uow.commit()` - anything not committed is rolled back on exit."""

    courses: CourseRepository
    interactions: InteractionRepository
    slates: SlateRepository
    stats: StatsRepository

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
