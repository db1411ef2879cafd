"""CopyModels: the current version of each model, from one artifact store into another, so that a
deployment moving its models (a folder to the database, or back) does not fit them all again."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from application.ports import ArtifactStore, CorruptArtifact, StaleBase
from application.use_cases.roll_back_model import republished


@dataclass(frozen=True, slots=True)
class Copied:
    name: str
    #: the version in the target (None: nothing was copied, `note` says why)
    version: str | None
    note: str = ""


class CopyModels:
    def __init__(self, source: ArtifactStore, target: ArtifactStore) -> None:
        self.source = source
        self.target = target

    def execute(self, names: Iterable[str]) -> Iterator[Copied]:
        """Each model the target has no version of yet: what a trainer already published there
        is newer than the source's copy, and stays. One at a time, as each is done: a copy cut
        off mid-way (a full disk, an outage) has told what it copied, and run again it copies
        the rest."""
        for name in names:
            yield self._copy(name)

    def _copy(self, name: str) -> Copied:
        there = self.target.current_version(name)
        if there is not None:
            return Copied(name, None, f"kept the version already there ({there})")
        version = self.source.current_version(name)
        if version is None:
            return Copied(name, None, "nothing published to copy")
        try:
            artifact = self.source.load(name, version)
        except CorruptArtifact as error:
            return Copied(name, None, f"not copied: {error}")
        try:
            # the model's training time and data version kept: the trainer finds it up to date
            copied = self.target.publish(name, artifact.files, republished(artifact), None)
        except StaleBase:
            return Copied(name, None, "kept the version a trainer published there meanwhile")
        return Copied(name, copied, f"copied {version}")
