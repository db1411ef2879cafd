"""TrainTwoTower: read the interactions, train, publish a new artifact version."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from application.collector import collector_paused
from application.ports import ArtifactStore, EpochProgress, ModelTrainer, UnitOfWork
from domain.errors import StrategyUnavailable
from domain.model import Course, CourseId, EventType, Interaction, UserId

STREAM_BATCH = 10_000


@dataclass(frozen=True, slots=True)
class TrainResult:
    version: str
    manifest: dict[str, Any]
    seconds: float


def strongest_events(
    events: Iterable[Interaction],
) -> tuple[dict[UserId, dict[CourseId, EventType]], int]:
    """Learner -> course -> strongest event, in the order courses were first touched, and how many
    events there were. Memory follows (learner, course) pairs, not events."""
    histories: dict[UserId, dict[CourseId, EventType]] = defaultdict(dict)
    count = 0
    for event in events:
        count += 1
        best = histories[event.user_id].get(event.course_id)
        if best is None or event.event_type.strength > best.strength:
            histories[event.user_id][event.course_id] = event.event_type
    return histories, count


class TrainTwoTower:
    def __init__(
        self, uow_factory: Callable[[], UnitOfWork], trainer: ModelTrainer, store: ArtifactStore
    ) -> None:
        self.uow_factory = uow_factory
        self.trainer = trainer
        self.store = store

    def execute(
        self,
        progress: EpochProgress | None = None,
        data: tuple[Sequence[Course], Sequence[Interaction]] | None = None,
        data_version: str | None = None,
        settings: Mapping[str, Any] | None = None,
        read_at: str | None = None,
        erasure_mark: int | None = None,
    ) -> TrainResult:
        """Trains on `data` (courses, events oldest first) or on what is stored, with `settings`
        (chosen by tuning or pinned; recorded in the manifest) over the configured ones. Raises
        StaleBase if another version was published while this one trained: it would be replaced
        by an older fit. `read_at`: when `data` was read (ISO 8601), recorded as trained_at, and
        `erasure_mark`, the erasure mark read before it: a learner erased after it is in the
        model, whenever it is published."""
        started = time.perf_counter()
        base = self.store.current_version(self.trainer.artifact_name)
        read_at = read_at or datetime.now(UTC).isoformat()
        if data is None:
            with self.uow_factory() as uow, collector_paused():
                erasure_mark = uow.erasures.mark()
                data_version = f"{uow.courses.version()}|{uow.interactions.version()}"
                courses = uow.courses.all()
                histories, events = strongest_events(uow.interactions.stream(STREAM_BATCH))
        else:
            courses = list(data[0])
            histories, events = strongest_events(data[1])
        if not courses or not histories:
            raise StrategyUnavailable("there are no courses or no interactions to train on yet")
        trainer = self.trainer.with_settings(settings) if settings else self.trainer
        files, manifest = trainer.train(courses, histories, progress)
        manifest = {
            **manifest,
            "data": {**manifest.get("data", {}), "events": events},
            "settings": dict(settings or {}),
            "trained_at": read_at,
        }
        if erasure_mark is not None:
            manifest["erasure_mark"] = erasure_mark
        if data_version is not None:
            manifest["data_version"] = data_version
        version = self.store.publish(self.trainer.artifact_name, files, manifest, based_on=base)
        return TrainResult(version, manifest, time.perf_counter() - started)
