"""RebuildIndex: a new artifact version with a fresh candidate index (optionally fresh embeddings)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from application.ports import ArtifactStore, ModelTrainer, UnitOfWork
from domain.errors import StrategyUnavailable


@dataclass(frozen=True, slots=True)
class RebuildResult:
    version: str
    previous: str
    indexed: int


class RebuildIndex:
    def __init__(
        self, uow_factory: Callable[[], UnitOfWork], trainer: ModelTrainer, store: ArtifactStore
    ) -> None:
        self.uow_factory = uow_factory
        self.trainer = trainer
        self.store = store

    def execute(self, reencode: bool = True) -> RebuildResult:
        """reencode=True (export-embeddings): embed the current catalog with the current model;
        reencode=False (rebuild-index): index the saved embeddings again."""
        name = self.trainer.artifact_name
        current = self.store.current_version(name)
        if current is None:
            raise StrategyUnavailable(
                f"no {name} model has been trained yet (recsys train-two-tower)"
            )
        artifact = self.store.load(name, current)
        with self.uow_factory() as uow:
            courses = uow.courses.all()
        files, manifest = self.trainer.reindex(artifact, courses, reencode)
        if self.store.current_version(name) != current:
            raise StrategyUnavailable(
                f"a newer {name} version was published while reindexing {current}; nothing was replaced"
            )
        version = self.store.publish(name, files, manifest)
        return RebuildResult(version, current, int(manifest.get("index", {}).get("size", 0)))
