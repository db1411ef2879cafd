"""The fitted recommenders a server answers with, refitted when the catalog or the events change."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from application.ports import ArtifactStore, UnitOfWork
from domain.errors import InvalidStrategy, StrategyUnavailable
from domain.model import Course, CourseId, Interaction, LearnerHistory, Recommendation
from domain.ports import Recommender

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """A catalog and the recommenders fitted on it, swapped as a whole."""

    version: str
    courses: Mapping[CourseId, Course]
    recommenders: Mapping[str, Recommender] = field(default_factory=dict)

    def inactive(self) -> frozenset[CourseId]:
        return frozenset(c for c, course in self.courses.items() if not course.active)


class Unavailable(Recommender):
    """Stands in for a strategy whose fit failed: not ready, so requests fall back."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def ready(self) -> bool:
        return False

    def fit(self, courses: Sequence[Course], interactions: Sequence[Interaction]) -> None:
        pass

    def recommend(
        self, learner: LearnerHistory, k: int, exclude: frozenset[CourseId] = frozenset()
    ) -> list[Recommendation]:
        return []

    def similar(
        self, course_id: CourseId, k: int, exclude: frozenset[CourseId] = frozenset()
    ) -> list[Recommendation]:
        raise StrategyUnavailable(f"{self.name} is unavailable")


class StrategyRegistry:
    """Builds and caches a Snapshot; checks the data version at most every `refresh_seconds`."""

    def __init__(
        self,
        factories: Mapping[str, Callable[[], Recommender]],
        uow_factory: Callable[[], UnitOfWork],
        refresh_seconds: float = 30.0,
        artifacts: ArtifactStore | None = None,
        artifact_names: tuple[str, ...] = (),
        composites: Mapping[str, Callable[[Mapping[str, Recommender]], Recommender]] | None = None,
    ) -> None:
        self.factories = dict(factories)
        #: strategies built from the fitted others (the hybrid), rebuilt with every snapshot
        self.composites = dict(composites or {})
        self.uow_factory = uow_factory
        self.refresh_seconds = refresh_seconds
        self.artifacts = artifacts
        self.artifact_names = artifact_names
        self._snapshot: Snapshot | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        return sorted([*self.factories, *self.composites, "auto"])

    @property
    def component_names(self) -> list[str]:
        return sorted(self.factories)

    def validate(self, name: str) -> str:
        if name not in self.names:
            raise InvalidStrategy(name, self.names)
        return name

    def snapshot(self, force_check: bool = False) -> Snapshot:
        """The current snapshot, refreshed when `refresh_seconds` have passed (or, for a
        `force_check` such as an unknown course id, at most once a second). While one thread
        refits, the others keep answering from the snapshot they have."""
        current = self._snapshot
        since = time.monotonic() - self._checked_at
        if (
            current is not None
            and since < self.refresh_seconds
            and not (force_check and since >= 1.0)
        ):
            return current
        if not self._lock.acquire(blocking=current is None):
            return current  # type: ignore[return-value]
        try:
            if current is None and self._snapshot is not None:
                return self._snapshot  # another thread built the first one while we waited
            self._snapshot = self._refresh(self._snapshot)
            return self._snapshot
        finally:
            self._checked_at = time.monotonic()
            self._lock.release()

    def snapshot_knowing(self, course_id: CourseId) -> Snapshot:
        """A snapshot that holds `course_id` if the database does: a course added since the last
        refresh triggers a (rate-limited) check."""
        snapshot = self.snapshot()
        return snapshot if course_id in snapshot.courses else self.snapshot(force_check=True)

    def _artifact_versions(self) -> str:
        """A newly published model is picked up like new data: by a changed version."""
        if self.artifacts is None:
            return ""
        return ",".join(self.artifacts.current_version(name) or "-" for name in self.artifact_names)

    def _refresh(self, current: Snapshot | None) -> Snapshot:
        with self.uow_factory() as uow:
            version = (
                f"{uow.courses.version()}|{uow.interactions.version()}|{self._artifact_versions()}"
            )
            if current is not None and current.version == version:
                return current
            started = time.perf_counter()
            courses = uow.courses.all()
            events = list(uow.interactions.stream())
        recommenders: dict[str, Recommender] = {}
        for name, make in self.factories.items():
            recommender = make()
            try:
                recommender.fit(courses, events)
            except Exception:  # noqa: BLE001 - one strategy failing must not take the others down
                log.exception(
                    "%s could not be fitted; it stays unavailable until the next refresh", name
                )
                recommender = (
                    current.recommenders[name]
                    if current and name in current.recommenders
                    else Unavailable(name)
                )
            recommenders[name] = recommender
        for name, compose in self.composites.items():
            recommenders[name] = compose(dict(recommenders))
        log.info(
            "fitted %s on %d courses and %d events in %.2fs",
            ", ".join(recommenders),
            len(courses),
            len(events),
            time.perf_counter() - started,
        )
        return Snapshot(version, {c.course_id: c for c in courses}, recommenders)
