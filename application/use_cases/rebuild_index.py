"""RebuildIndex: a new artifact version with a fresh candidate index (optionally fresh embeddings)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from application.ports import ArtifactStore, ModelTrainer, StaleBase, UnitOfWork
from domain.errors import StrategyUnavailable


@dataclass(frozen=True, slots=True)
class RebuildResult:
    version: str
    previous: str
    indexed: int


class RebuildIndex:
    #: how often a rebuild starts again from a version published while it worked
    REBASES = 3

    def __init__(
        self, uow_factory: Callable[[], UnitOfWork], trainer: ModelTrainer, store: ArtifactStore
    ) -> None:
        self.uow_factory = uow_factory
        self.trainer = trainer
        self.store = store

    def execute(self, reencode: bool = True, data_version: str | None = None) -> RebuildResult:
        """reencode=True (export-embeddings): embed the current catalog with the current model;
        reencode=False (rebuild-index): index the saved embeddings again. A version published
        meanwhile (a training) is never replaced by a rebuild of an older one: the rebuild
        starts again from it."""
        for _ in range(self.REBASES):
            try:
                return self._rebuild(reencode, data_version)
            except StaleBase:
                continue
        raise StrategyUnavailable(
            f"{self.trainer.artifact_name} kept changing while reindexing; nothing was replaced"
        )

    def _rebuild(self, reencode: bool, data_version: str | None) -> RebuildResult:
        name = self.trainer.artifact_name
        current = self.store.current_version(name)
        if current is None:
            raise StrategyUnavailable(
                f"no {name} model has been trained yet (recsys train-two-tower)"
            )
        artifact = self.store.load(name, current)
        with self.uow_factory() as uow:
            catalog = uow.courses.version()  # first: a change after it is embedded again later
            courses = uow.courses.all()
        if not courses:  # embedding none would replace a model of the catalog by an empty one
            raise StrategyUnavailable(
                f"the database holds no courses: nothing to embed; {name} {current} stays"
            )
        files, manifest = self.trainer.reindex(artifact, courses, reencode)
        # A new index is not a new model: the training interval and erasures are checked
        # against when the model was trained.
        manifest["trained_at"] = artifact.trained_at
        if data_version is None and reencode:
            # The catalog as embedded now, the events the model was trained on: with the old
            # version's, the trainer took the catalog for not embedded yet and did it again.
            events = str(artifact.manifest.get("data_version") or "").partition("|")[2]
            data_version = f"{catalog}|{events}" if events else None
        if data_version is not None:
            manifest["data_version"] = data_version
        version = self.store.publish(name, files, manifest, based_on=current)
        return RebuildResult(version, current, int(manifest.get("index", {}).get("size", 0)))
