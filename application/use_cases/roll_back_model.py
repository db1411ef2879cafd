"""RollBackModel and ReleaseModel: make an older version of a strategy current again, held so
the trainer does not refit over it, and later let the trainer fit it again.

The store never lets an older version replace a newer one (publishes are compare-and-swap on the
current version), so a rollback publishes the old version's files again as a new version whose
manifest says which version it restores and that it is held. Web workers load it like any
publish; the trainer leaves a held strategy alone until it is released.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from application.manifests import fitted_before, model_of
from application.ports import Artifact, ArtifactStore, CorruptArtifact, LatestErasure
from domain.errors import InvalidStrategy

#: what the store writes into every manifest itself: a republish gets its own
BOOKKEEPING = ("name", "version", "created_at", "files")


class RollbackRefused(Exception):
    """Nothing was published: the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class RolledBack:
    strategy: str
    version: str  # the version published
    restores: str
    replaced: str | None  # None: the current pointer was missing or damaged


def held_restoring(manifest: Mapping[str, Any]) -> str | None:
    """The version a held rollback restores, or None when the version is not held."""
    return str(manifest.get("restores")) if manifest.get("held") else None


def republished(artifact: Artifact, **changes: Any) -> dict[str, Any]:
    """The artifact's manifest for publishing its files again: its model's training time kept
    (the admin view and the list say when the model answering was fitted, not copied)."""
    manifest = {k: v for k, v in artifact.manifest.items() if k not in BOOKKEEPING}
    return {**manifest, "trained_at": artifact.trained_at, **changes}


class RollBackModel:
    def __init__(
        self,
        store: ArtifactStore,
        strategies: Sequence[str],
        latest_erasure: Callable[[], LatestErasure | None] = lambda: None,
    ) -> None:
        self.store = store
        self.strategies = sorted(strategies)
        #: when a learner was last erased: a model fitted before it holds them, and stays gone
        self.latest_erasure = latest_erasure

    def execute(self, strategy: str, to: str | None = None) -> RolledBack:
        """Publish `to` (default: the newest kept version older than the model answering now
        that loads whole) again as a held version; raises RollbackRefused, InvalidStrategy, or
        StaleBase when another version was published meanwhile. With the `current` pointer
        missing or damaged (workers then answer as if nothing were published), the kept versions
        are still there to restore: `to`, or the newest that loads whole."""
        _known(self.strategies, strategy)
        current = self.store.current_version(strategy)
        if current is None and not self.store.versions(strategy):
            raise RollbackRefused(f"{strategy} has no published version")
        old = self._chosen(strategy, current) if to is None else self._named(strategy, current, to)
        erased = self.latest_erasure()
        if fitted_before(erased, old.trained_at, old.manifest.get("erasure_mark")):
            assert erased is not None
            raise RollbackRefused(
                f"{strategy} {old.version} was fitted before a learner was erased "
                f"({erased.at.isoformat(timespec='seconds')}): restoring it would bring their "
                "data back; nothing was rolled back"
            )
        restores = str(old.manifest.get("restores") or old.version)  # a copy names its original
        manifest = republished(old, restores=restores, held=True)
        version = self.store.publish(strategy, old.files, manifest, based_on=current)
        return RolledBack(strategy, version, restores, current)

    def _named(self, strategy: str, current: str | None, to: str) -> Artifact:
        kept = self.store.versions(strategy)
        if to not in kept:
            raise RollbackRefused(
                f"{strategy} has no version {to}; kept: {', '.join(kept)} "
                f"(`recsys model-versions {strategy}` lists them)"
            )
        if to == current:
            raise RollbackRefused(f"{strategy} {to} is the current version already")
        try:
            return self.store.load(strategy, to)
        except CorruptArtifact as error:
            raise RollbackRefused(f"{error}; nothing was rolled back") from None

    def _chosen(self, strategy: str, current: str | None) -> Artifact:
        if current is None:  # no model answers: the newest version that loads whole
            return self._whole(strategy, self.store.versions(strategy), "kept")
        # After a rollback the current version is a copy of an older one, held or released since:
        # going back again means older than the model it restores, not the version it replaced.
        try:
            answering_now = self.store.load(strategy, current, only=())
        except CorruptArtifact:
            answering_now = None
        restores = answering_now.manifest.get("restores") if answering_now else None
        answering = str(restores) if restores else None
        newest = min(current, answering or current)
        older = [v for v in self.store.versions(strategy) if v < newest]
        if not older:
            raise RollbackRefused(f"no {strategy} version older than {newest} is kept")
        # A reindex publishes the same model again with a new index (its trained_at and settings
        # kept): going back to one would restore the very model the operator is rolling back from.
        model = (
            model_of(answering_now.manifest) if answering_now and answering_now.trained_at else None
        )
        return self._whole(strategy, older, "older", other_than=model)

    def _whole(
        self,
        strategy: str,
        versions: Sequence[str],
        which: str,
        other_than: tuple[str | None, Any] | None = None,
    ) -> Artifact:
        """The first of `versions` (newest first) that loads whole and holds another model than
        `other_than` (application.manifests.model_of)."""
        problems = []
        same = []
        for version in versions:
            try:
                if other_than and other_than == model_of(
                    self.store.load(strategy, version, only=()).manifest
                ):
                    same.append(version)
                    continue
                return self.store.load(strategy, version)
            except CorruptArtifact as error:
                problems.append(str(error))
        if same and other_than:
            problems.append(
                f"{', '.join(same)} only index again the model answering now (fitted "
                f"{other_than[0]}); `--to VERSION` restores one all the same"
            )
            raise RollbackRefused(f"no {which} {strategy} model is kept: {'; '.join(problems)}")
        raise RollbackRefused(f"no {which} {strategy} version is whole: {'; '.join(problems)}")


class ReleaseModel:
    def __init__(self, store: ArtifactStore, strategies: Sequence[str]) -> None:
        self.store = store
        self.strategies = sorted(strategies)

    def execute(self, strategy: str) -> str:
        """Publish the held version again, not held: the trainer fits the strategy at its next
        cycle if the data or settings changed since (as they do after a rollback to an older
        fit). Returns the version published."""
        current = _current(self.store, self.strategies, strategy)
        try:
            held = self.store.load(strategy, current)
        except CorruptArtifact as error:
            raise RollbackRefused(
                f"{error}; the trainer replaces a damaged version at its next cycle, held or not"
            ) from None
        if held_restoring(held.manifest) is None:
            raise RollbackRefused(f"{strategy} {current} is not held; nothing to release")
        return self.store.publish(
            strategy, held.files, republished(held, held=False), based_on=current
        )


def _known(strategies: Sequence[str], strategy: str) -> None:
    if strategy not in strategies:
        raise InvalidStrategy(strategy, list(strategies))


def _current(store: ArtifactStore, strategies: Sequence[str], strategy: str) -> str:
    _known(strategies, strategy)
    current = store.current_version(strategy)
    if current is None:
        raise RollbackRefused(f"{strategy} has no published version")
    return current
