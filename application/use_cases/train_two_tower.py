"""TrainTwoTower: stream the interactions, train, publish a new artifact version."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from application.ports import ArtifactStore, EpochProgress, ModelTrainer, UnitOfWork
from domain.errors import StrategyUnavailable
from domain.model import CourseId, EventType, UserId

STREAM_BATCH = 10_000


@dataclass(frozen=True, slots=True)
class TrainResult:
    version: str
    manifest: dict[str, Any]
    seconds: float


class TrainTwoTower:
    def __init__(
        self, uow_factory: Callable[[], UnitOfWork], trainer: ModelTrainer, store: ArtifactStore
    ) -> None:
        self.uow_factory = uow_factory
        self.trainer = trainer
        self.store = store

    def execute(self, progress: EpochProgress | None = None) -> TrainResult:
        started = time.perf_counter()
        histories: dict[UserId, dict[CourseId, EventType]] = defaultdict(dict)
        with self.uow_factory() as uow:
            courses = uow.courses.all()
            # Events arrive STREAM_BATCH rows at a time; only the strongest event per
            # (learner, course) pair is kept, so memory follows pairs, not the events table.
            events = 0
            for event in uow.interactions.stream(STREAM_BATCH):
                events += 1
                best = histories[event.user_id].get(event.course_id)
                if best is None or event.event_type.strength > best.strength:
                    histories[event.user_id][event.course_id] = event.event_type
        if not courses or not histories:
            raise StrategyUnavailable("there are no courses or no interactions to train on yet")
        files, manifest = self.trainer.train(courses, histories, progress)
        manifest = {**manifest, "data": {**manifest.get("data", {}), "events": events}}
        version = self.store.publish(self.trainer.artifact_name, files, manifest)
        return TrainResult(version, manifest, time.perf_counter() - started)
