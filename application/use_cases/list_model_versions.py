"""ListModelVersions: every kept version of each published strategy, for an operator choosing
one to roll back to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from application.manifests import fitted_with, training_figures
from application.ports import ArtifactStore, CorruptArtifact
from domain.errors import InvalidStrategy


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: str
    current: bool
    trained_at: str | None = None
    data_version: str | None = None
    #: validation figures, when the manifest has them (two_tower's)
    metrics: dict[str, Any] = field(default_factory=dict)
    #: the settings its model was fitted with (item_cf's λ, two_tower's objective...)
    fitted_with: dict[str, Any] = field(default_factory=dict)
    #: the version whose files this one published again (a rollback), and whether it is held
    restores: str | None = None
    held: bool = False
    #: why it cannot be loaded ("" when its manifest and file sizes are whole)
    error: str = ""


@dataclass(frozen=True, slots=True)
class StrategyVersions:
    strategy: str
    current: str | None
    versions: list[VersionInfo]


class ListModelVersions:
    def __init__(self, store: ArtifactStore, strategies: Sequence[str]) -> None:
        """strategies: the names the trainer publishes (the hybrid is built at serving time)."""
        self.store = store
        self.strategies = sorted(strategies)

    def execute(self, strategies: Sequence[str] = ()) -> list[StrategyVersions]:
        """The versions of `strategies` (default: all), newest first; raises InvalidStrategy."""
        for name in strategies:
            if name not in self.strategies:
                raise InvalidStrategy(name, self.strategies)
        return [self._versions(name) for name in strategies or self.strategies]

    def _versions(self, name: str) -> StrategyVersions:
        current = self.store.current_version(name)
        found = []
        for version in self.store.versions(name):
            try:
                # only=(): the manifest and each file's size, not its bytes (models run large)
                artifact = self.store.load(name, version, only=())
            except CorruptArtifact as error:
                found.append(VersionInfo(version, version == current, error=str(error)))
                continue
            manifest = artifact.manifest
            found.append(
                VersionInfo(
                    version,
                    version == current,
                    artifact.trained_at,
                    manifest.get("data_version"),
                    training_figures(manifest),
                    fitted_with(manifest),
                    manifest.get("restores"),
                    bool(manifest.get("held")),
                )
            )
        return StrategyVersions(name, current, found)
