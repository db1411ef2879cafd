"""FitStrategies: the trainer's cycle. When the catalog or the events changed, read them once, fit
every strategy whose published version is older than the data, and publish each.

A version records the data it was fitted on (`data_version`), so any trainer on any host can tell
what is stale. two_tower retrains when events changed and its model is older than
`train_interval`; a catalog change alone re-embeds the catalog with the model it has.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from application.ports import ArtifactStore, EpochProgress, UnitOfWork
from application.use_cases.rebuild_index import RebuildIndex
from application.use_cases.train_two_tower import TrainTwoTower
from domain.errors import StrategyUnavailable
from domain.ports import Recommender

log = logging.getLogger(__name__)
TWO_TOWER = "two_tower"


@dataclass(frozen=True, slots=True)
class Fitted:
    strategy: str
    version: str | None  # None: nothing was published
    seconds: float  # fitting and publishing
    note: str = ""
    publish_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class DataVersion:
    catalog: str
    events: str

    def __str__(self) -> str:
        return f"{self.catalog}|{self.events}"

    @classmethod
    def parse(cls, text: object) -> DataVersion | None:
        catalog, sep, events = str(text or "").partition("|")
        return cls(catalog, events) if sep else None


class FitStrategies:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        factories: Mapping[str, Callable[[], Recommender]],
        store: ArtifactStore,
        train_two_tower: Callable[[], TrainTwoTower] | None = None,
        rebuild_index: Callable[[], RebuildIndex] | None = None,
        train_interval: float = 3600.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.uow_factory = uow_factory
        self.factories = dict(factories)
        self.store = store
        self.train_two_tower = train_two_tower
        self.rebuild_index = rebuild_index
        self.train_interval = train_interval
        self.clock = clock

    def data_version(self) -> tuple[DataVersion, datetime | None]:
        """The data's fingerprint, and when a learner was last erased."""
        with self.uow_factory() as uow:
            version = DataVersion(uow.courses.version(), uow.interactions.version())
            return version, uow.erasures.latest()

    def _published(self, name: str) -> tuple[str | None, DataVersion | None, datetime | None]:
        version = self.store.current_version(name)
        if version is None:
            return None, None, None
        manifest = self.store.load(name, version, only=()).manifest
        created = manifest.get("created_at")
        return (
            version,
            DataVersion.parse(manifest.get("data_version")),
            datetime.fromisoformat(created) if created else None,
        )

    def plan(self, force: bool = False) -> tuple[DataVersion, dict[str, str | None], str]:
        """The data version, the stale strategies with the versions they replace, and what
        two_tower needs ("train", "reindex" or "")."""
        data, erased_at = self.data_version()
        stale: dict[str, str | None] = {}
        for name in self.factories:
            version, fitted_on, _ = self._published(name)
            if force or fitted_on != data:
                stale[name] = version
        two_tower = ""
        if self.train_two_tower is not None:
            version, fitted_on, created = self._published(TWO_TOWER)
            old = created is None or self.clock() - created >= timedelta(
                seconds=self.train_interval
            )
            # An erased learner must leave the model now, not at the next scheduled training.
            erased = erased_at is not None and (created is None or created < erased_at)
            if (
                force
                or version is None
                or erased
                or (fitted_on and fitted_on.events != data.events and old)
            ):
                two_tower = "train"
            elif fitted_on is None or fitted_on.catalog != data.catalog:
                two_tower = "reindex"
        return data, stale, two_tower

    def execute(
        self, force: bool = False, progress: Callable[[str], None] | None = None
    ) -> list[Fitted]:
        say = progress or log.info
        data, stale, two_tower = self.plan(force)
        if not stale and not two_tower:
            return []
        started = time.perf_counter()
        with self.uow_factory() as uow:
            courses = uow.courses.all()
            events = list(uow.interactions.stream())
        say(f"read {len(courses)} courses and {len(events)} events in {time.perf_counter() - started:.1f}s")
        done = []
        for name, base in stale.items():
            started = time.perf_counter()
            recommender = self.factories[name]()
            try:
                recommender.fit(courses, events)
                files, manifest = recommender.dump()
            except Exception as error:  # noqa: BLE001 - one strategy failing must not stop the rest
                log.exception("%s could not be fitted; its published version stays", name)
                done.append(Fitted(name, None, time.perf_counter() - started, f"failed: {error}"))
                continue
            fitted = time.perf_counter() - started
            version = self.store.publish(
                name,
                files,
                {**manifest, "data_version": str(data), "fit_seconds": round(fitted, 3)},
                based_on=base,
            )
            seconds = time.perf_counter() - started
            done.append(Fitted(name, version, seconds, publish_seconds=seconds - fitted))
            say(f"fitted {name} in {fitted:.1f}s, published {version}")
        if two_tower:
            done.append(self._two_tower(two_tower, data, courses, events, say))
        return done

    def _two_tower(self, what: str, data: DataVersion, courses, events, say) -> Fitted:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            if what == "train":
                assert self.train_two_tower is not None
                say(f"training {TWO_TOWER} on {len(events)} events")
                trained = self.train_two_tower().execute(
                    _every_few_seconds(say), data=(courses, events), data_version=str(data)
                )
                version, note = trained.version, "trained"
            else:
                assert self.rebuild_index is not None
                # The model still knows only the events it was trained on.
                trained_on = self._published(TWO_TOWER)[1]
                now = DataVersion(data.catalog, trained_on.events if trained_on else "")
                rebuilt = self.rebuild_index().execute(reencode=True, data_version=str(now))
                version, note = rebuilt.version, f"re-embedded {rebuilt.indexed} courses"
        except StrategyUnavailable as error:
            say(f"{TWO_TOWER}: {error}")
            return Fitted(TWO_TOWER, None, time.perf_counter() - started, str(error))
        seconds = time.perf_counter() - started
        say(f"{TWO_TOWER} {note} in {seconds:.1f}s, published {version}")
        return Fitted(TWO_TOWER, version, seconds, note)


def _every_few_seconds(say: Callable[[str], None], seconds: float = 5.0) -> EpochProgress:
    """Training progress as a log line every few seconds (and at each member's last epoch)."""
    said = [time.monotonic()]

    def progress(epoch: int, epochs: int, loss: float, recall: float) -> None:
        if time.monotonic() - said[0] >= seconds or epoch == epochs:
            said[0] = time.monotonic()
            say(
                f"{TWO_TOWER} epoch {epoch}/{epochs}: loss {loss:.4f}, "
                f"validation recall@10 {recall:.4f}"
            )

    return progress
