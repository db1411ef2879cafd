"""FitStrategies: the trainer's cycle. When the catalog or the events changed, read them once, fit
every strategy whose published version is older than the data, and publish each.

A version records the data it was fitted on (`data_version`) and the settings it was fitted with,
so any trainer on any host can tell what is stale. two_tower retrains when events changed and its
model is older than `train_interval`; a catalog change alone re-embeds the catalog with the model
it has.

Before each two_tower training the settings are chosen again on the deployment's own data
(application.tuning: item_cf's λ, recency weighting and proximity weight, sequence's recency
weighting, two_tower's objective and size, the hybrid's weights), within `tuning_budget` seconds, and published as the "tuning" artifact: the
next fits use them and web workers blend the hybrid with its weights. Pinned settings win.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from application.collector import collector_paused
from application.manifests import fitted_before
from application.ports import (
    ArtifactStore,
    CorruptArtifact,
    EpochProgress,
    LatestErasure,
    StaleBase,
    UnitOfWork,
    UnloadableArtifact,
)
from application.tuning import Factories, known_settings, tune
from application.use_cases.rebuild_index import RebuildIndex
from application.use_cases.roll_back_model import held_restoring
from application.use_cases.train_two_tower import TrainTwoTower
from domain.errors import StrategyUnavailable
from domain.model import Course, Interaction
from domain.ports import Recommender

log = logging.getLogger(__name__)
TWO_TOWER = "two_tower"
#: how long a version replaced by a publish stays while web workers may still be loading it, when
#: nothing else would keep it (it holds a learner since erased)
REPLACED_KEPT_SECONDS = 60.0
#: the artifact holding the settings chosen on the deployment's data (see application.tuning)
TUNING = "tuning"
Settings = dict[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Fitted:
    strategy: str
    version: str | None  # None: nothing was published
    seconds: float  # fitting and publishing
    note: str = ""
    publish_seconds: float = 0.0
    #: another trainer published this strategy meanwhile: its version stays, this fit is dropped
    overtaken: bool = False
    #: fitting or publishing failed (`note` says why): the published version stays
    failed: bool = False
    #: what was wrong with the version this one replaces, when it was damaged
    repaired: str = ""
    #: the version a rollback restored and holds: nothing was fitted (`note` says how to release)
    held: str = ""


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


#: what one cycle fits on: the data version, the courses, the events, when they were read and
#: the erasure mark read before them
Fitting = tuple[DataVersion, list[Course], list[Interaction], str, int]


class Published(NamedTuple):
    """A strategy's current version, as the trainer reads its manifest."""

    version: str | None
    fitted_on: DataVersion | None
    settings: dict[str, Any]
    trained_at: str | None = None
    erasure_mark: Any = None

    @property
    def trained(self) -> datetime | None:
        return datetime.fromisoformat(self.trained_at) if self.trained_at else None

    def predates(self, erasure: LatestErasure | None) -> bool:
        """Whether its model still holds the learner `erasure` removed."""
        return fitted_before(erasure, self.trained_at, self.erasure_mark)


class EmptyCatalog(Exception):
    """The database holds no courses: nothing is fitted. Models of no courses, published over
    those of a catalog, would empty every list (a trainer pointed at the wrong database)."""


def published_settings(store: ArtifactStore) -> tuple[str | None, dict[str, Any]]:
    """The current tuning version and its manifest ({} when nothing was tuned yet)."""
    version = store.current_version(TUNING)
    try:
        return version, (store.load(TUNING, version, only=()).manifest if version else {})
    except CorruptArtifact as error:
        log.warning("%s: %s; the defaults are used until the next search", TUNING, error)
        return version, {}


class FitStrategies:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        factories: Mapping[str, Callable[..., Recommender]],
        store: ArtifactStore,
        train_two_tower: Callable[[], TrainTwoTower] | None = None,
        rebuild_index: Callable[[], RebuildIndex] | None = None,
        train_interval: float = 3600.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        tuning_factories: Factories | None = None,
        pins: Mapping[str, Mapping[str, Any]] | None = None,
        tuning_budget: float = 0.0,
        database: str = "",
    ) -> None:
        """factories: strategy -> a recommender built with keyword settings (those chosen by
        tuning, or pinned); tuning_factories: what application.tuning.tune searches with (none, or
        a budget of 0: no tuning, the configured defaults and pins are used); database: which
        one this reads, as an operator may be shown it (no password)."""
        self.database = database
        self.uow_factory = uow_factory
        self.factories = dict(factories)
        self.store = store
        self.train_two_tower = train_two_tower
        self.rebuild_index = rebuild_index
        self.train_interval = train_interval
        self.clock = clock
        self.tuning_factories = dict(tuning_factories or {})
        self.pins = {name: dict(values) for name, values in (pins or {}).items()}
        self.tuning_budget = tuning_budget
        #: strategy -> why its current version cannot be loaded (found by _published)
        self.damaged: dict[str, str] = {}
        #: strategy -> the version its held rollback restores (found by _published)
        self.held: dict[str, str] = {}

    def wanted(self) -> Settings:
        """Strategy -> the settings to fit it with: the last published tuning's, pins winning.
        Settings this version cannot choose are left out: a tuning published by a newer version
        (before a rollback, or beside it on another host) must not stop this one fitting."""
        published = published_settings(self.store)[1].get("settings", {})
        if not isinstance(published, Mapping):  # a manifest (no checksum) edited by hand
            published = {}
        chosen = {
            name: {k: v for k, v in values.items() if k in known_settings(name)}
            for name, values in published.items()
            if isinstance(values, Mapping)
        }
        names = {*chosen, *self.pins}
        return {n: {**chosen.get(n, {}), **self.pins.get(n, {})} for n in names}

    def data_version(self) -> tuple[DataVersion, LatestErasure | None]:
        """The data's fingerprint, and the latest erasure that removed events."""
        with self.uow_factory() as uow:
            version = DataVersion(uow.courses.version(), uow.interactions.version())
            return version, uow.erasures.latest()

    def _published(self, name: str) -> Published:
        """The current version, the data it was fitted on, with which settings (those this
        version knows: a newer trainer beside this one publishes others, and comparing them would
        have the two refit the strategy in turn, each undoing the other's settings), and when."""
        version = self.store.current_version(name)
        if version is None:
            return Published(None, None, {})
        try:
            # Every checksum, not only the sizes: a file rewritten in place at its size breaks
            # the version for every host that loads it afresh. The store reads a file again
            # only when a stat says it changed, so this stays cheap each cycle.
            artifact = self.store.verify(name, version)
        except CorruptArtifact as error:
            # Gone, damaged or unreadable: web workers cannot load it, so it is fitted again
            # (settings no wanted ones can equal), whatever the data did meanwhile.
            log.warning("%s: %s; fitting a new version", name, error)
            self.damaged[name] = str(error)
            return Published(version, None, {"unreadable": str(error)})
        manifest = artifact.manifest
        restores = held_restoring(manifest)
        if restores is not None:
            self.held[name] = restores
        known = known_settings(name) | set(self.pins.get(name, {}))
        return Published(
            version,
            DataVersion.parse(manifest.get("data_version")),
            {k: v for k, v in manifest.get("settings", {}).items() if k in known},
            artifact.trained_at,
            manifest.get("erasure_mark"),
        )

    def plan(self, force: bool = False) -> tuple[DataVersion, dict[str, str | None], str]:
        """The data version, the stale strategies with the versions they replace, and what
        two_tower needs ("train", "reindex" or ""). A strategy fitted with other settings than
        the wanted ones (a new tuning, a new pin) is stale too."""
        data, erased = self.data_version()
        wanted = self.wanted()
        self.damaged, self.held = {}, {}
        stale: dict[str, str | None] = {}
        for name in self.factories:
            published = self._published(name)
            self._end_hold_after_erasure(name, published, erased)
            if name in self.held:  # an operator rolled it back: --force does not undo that
                continue
            if force or published.fitted_on != data or published.settings != wanted.get(name, {}):
                stale[name] = published.version
        two_tower = ""
        if self.train_two_tower is not None:
            published = self._published(TWO_TOWER)
            trained = published.trained
            old = trained is None or self.clock() - trained >= timedelta(
                seconds=self.train_interval
            )
            self._end_hold_after_erasure(TWO_TOWER, published, erased)
            fitted_on = published.fitted_on
            if TWO_TOWER in self.held:
                # Rolled back by an operator: the held weights stay, but courses added since are
                # embedded with them (the new version stays held), or no list could name them.
                changed = fitted_on is None or fitted_on.catalog != data.catalog
                two_tower = "reindex" if changed else ""
            elif (
                force
                or published.version is None
                # an erased learner must leave the model now, not at the next scheduled training
                or published.predates(erased)
                or (fitted_on and fitted_on.events != data.events and old)
                or published.settings != wanted.get(TWO_TOWER, {})
            ):
                two_tower = "train"
            elif fitted_on is None or fitted_on.catalog != data.catalog:
                two_tower = "reindex"
        return data, stale, two_tower

    def _discard_erased(self) -> None:
        """Removes the kept versions but the current one whose model holds an erased learner
        (two_tower's learner ids and embeddings): a rollback may not restore them, and kept,
        they would hold the learner until newer models pushed them out, or for ever. The
        current one is refitted meanwhile, and removed once its successor has been current for
        REPLACED_KEPT_SECONDS: a web worker that read `current` just before the publish is
        loading it (a cycle may begin seconds after a long one published)."""
        with self.uow_factory() as uow:
            erased = uow.erasures.latest()
        if erased is None:
            return
        for name in [*self.factories, *([TWO_TOWER] if self.train_two_tower else [])]:
            current = self.store.current_version(name)
            versions = self.store.versions(name)
            replaced = self._replaced_lately(name, current, versions)
            for version in versions:
                if version in (current, replaced):
                    continue
                try:
                    old = self.store.load(name, version, only=())
                except CorruptArtifact:
                    continue  # no model of it can be read, nor restored; pruned as before
                if not fitted_before(erased, old.trained_at, old.manifest.get("erasure_mark")):
                    continue
                try:
                    self.store.discard(name, version)
                except ValueError:  # made current meanwhile (by hand): it is refitted instead
                    continue
                except OSError as error:  # some of its files may be gone: it may not load again
                    log.warning(
                        "%s: version %s, fitted before a learner was erased, could not be "
                        "removed (%s): remove what is left of it by hand",
                        name,
                        version,
                        error,
                    )
                    continue
                log.info(
                    "%s: removed version %s, fitted before a learner was erased", name, version
                )

    def _replaced_lately(self, name: str, current: str | None, versions: list[str]) -> str | None:
        """The version `current` replaced, while web workers may still be loading it."""
        if current not in versions:
            return None
        older = versions[versions.index(current) + 1 :]
        if not older:
            return None
        # by the store's clock: created_at is the publishing host's, and a trainer whose clock
        # is ahead of it removed the version at once, one behind kept it for as long as that
        since = self.store.current_age(name)
        if since is None:
            try:
                published = self.store.load(name, current, only=()).manifest.get("created_at")
            except CorruptArtifact:
                published = None
            if published is None:
                return older[0]
            since = self.clock() - datetime.fromisoformat(published)
        return older[0] if since < timedelta(seconds=REPLACED_KEPT_SECONDS) else None

    def _end_hold_after_erasure(
        self, name: str, published: Published, erased: LatestErasure | None
    ) -> None:
        """A rollback does not outlast an erasure: a held model fitted before a learner was
        erased still holds them, and it is fitted again now like any other."""
        if name in self.held and published.predates(erased):
            log.warning(
                "%s: the hold of a rollback to %s ends: a learner was erased after that model "
                "was fitted; fitting it again",
                name,
                self.held.pop(name),
            )

    def execute(
        self,
        force: bool = False,
        progress: Callable[[str], None] | None = None,
        starting: Callable[[], None] = lambda: None,
    ) -> list[Fitted]:
        """Fits what is stale; `starting` is called once something will be, before the read."""
        say = progress or log.info
        with self.uow_factory() as uow:
            empty = uow.courses.count() == 0
        if empty:
            where = f" {self.database}" if self.database else ""
            raise EmptyCatalog(
                f"nothing was fitted: the database{where} holds no courses; "
                "the published versions stay"
            )
        data, stale, two_tower = self.plan(force)
        self._discard_erased()
        held = [self._holding(name, restores) for name, restores in self.held.items()]
        if not stale and not two_tower:
            return held
        starting()
        started = time.perf_counter()
        # What the models will know is what this read finds: a learner erased after it is in
        # them though the versions are published later. The erasure mark, read before the data,
        # is what erasures are checked by (trained_at is for people and the training interval).
        read_at = self.clock().isoformat()
        with self.uow_factory() as uow, collector_paused():
            mark = uow.erasures.mark()
            courses = uow.courses.all()
            events = list(uow.interactions.stream())
        say(
            f"read {len(courses)} courses and {len(events)} events in {time.perf_counter() - started:.1f}s"
        )
        wanted = self.wanted()
        # The cheap strategies first, with the settings chosen last time: answers improve at once.
        fitting = (data, courses, events, read_at, mark)
        done = [self._fit(n, base, fitting, wanted, say) for n, base in stale.items()]
        if two_tower == "train" and self._tuning_due(data, events):
            tuned = self._tune(data, courses, events, say)
            if tuned is not None:
                done.append(tuned)
                wanted = self.wanted()
                for name in self.factories:
                    published = self._published(name)
                    if name not in self.held and published.settings != wanted.get(name, {}):
                        done.append(self._fit(name, published.version, fitting, wanted, say))
        if two_tower:
            done.append(self._two_tower(two_tower, fitting, wanted.get(TWO_TOWER, {}), say))
        return held + [self._repairing(fitted) for fitted in done]

    def _holding(self, name: str, restores: str) -> Fitted:
        note = (
            f"held by a rollback to {restores}; `recsys rollback {name} --release` lets the "
            "trainer fit it again"
        )
        return Fitted(name, None, 0.0, note, held=restores)

    def _repairing(self, fitted: Fitted) -> Fitted:
        damage = self.damaged.get(fitted.strategy, "")
        if not damage or not fitted.version:
            return fitted
        note = f"{fitted.note}; " if fitted.note else ""
        return replace(fitted, note=f"{note}replaces a damaged version ({damage})", repaired=damage)

    def _fit(
        self,
        name: str,
        base: str | None,
        fitting: Fitting,
        wanted: Settings,
        say: Callable[[str], None],
    ) -> Fitted:
        data, courses, events, read_at, mark = fitting
        started = time.perf_counter()
        settings = wanted.get(name, {})
        try:
            recommender = self.factories[name](**settings)
            recommender.fit(courses, events)
            files, manifest = recommender.dump()
        except Exception as error:  # noqa: BLE001 - one strategy failing must not stop the rest
            log.exception("%s could not be fitted; its published version stays", name)
            seconds = time.perf_counter() - started
            return Fitted(name, None, seconds, f"failed: {error}", failed=True)
        fitted = time.perf_counter() - started
        try:
            version = self.store.publish(
                name,
                files,
                {
                    **manifest,
                    "data_version": str(data),
                    "trained_at": read_at,
                    "erasure_mark": mark,
                    "fit_seconds": round(fitted, 3),
                    "settings": settings,
                },
                based_on=base,
            )
        except StaleBase:
            return self._overtaken(name, started)
        except OSError as error:  # a full disk, an unwritable or unmounted RS_MODELS_DIR
            return self._unpublished(name, error, started)
        seconds = time.perf_counter() - started
        shown = f" with {settings}" if settings else ""
        say(f"fitted {name}{shown} in {fitted:.1f}s, published {version}")
        return Fitted(name, version, seconds, publish_seconds=seconds - fitted)

    def _tuning_due(self, data: DataVersion, events: list[Interaction]) -> bool:
        """Before a training, unless there is nothing to search with or on, or this very data
        was searched already (a training that failed after its search)."""
        tuned_on = published_settings(self.store)[1].get("data_version")
        return bool(
            self.tuning_factories and self.tuning_budget > 0 and events and tuned_on != str(data)
        )

    def _tune(
        self,
        data: DataVersion,
        courses: list[Course],
        events: list[Interaction],
        say: Callable[[str], None],
    ) -> Fitted | None:
        """Choose the settings on the deployment's latest behaviour and publish them."""
        started = time.perf_counter()
        base = self.store.current_version(TUNING)
        try:
            result = tune(
                courses,
                events,
                self.tuning_factories,
                pinned=self.pins,
                budget_seconds=self.tuning_budget,
                progress=say,
                protocol="temporal",
            )
        except Exception as error:  # noqa: BLE001 - the last chosen settings stay in use
            log.exception("tuning failed; the settings chosen last time stay")
            return Fitted(
                TUNING, None, time.perf_counter() - started, f"failed: {error}", failed=True
            )
        manifest = {key: value for key, value in result.as_dict().items() if key != "trials"} | {
            "data_version": str(data)
        }
        trials = json.dumps(result.trials, indent=1).encode()
        try:
            version = self.store.publish(TUNING, {"trials.json": trials}, manifest, based_on=base)
        except StaleBase as error:  # another trainer chose meanwhile: its settings are as good
            say(f"{TUNING}: {error}")
            return Fitted(TUNING, None, time.perf_counter() - started, str(error))
        except OSError as error:  # a full disk: the last chosen settings stay, training goes on
            return self._unpublished(TUNING, error, started)
        seconds = time.perf_counter() - started
        say(f"chose {result.settings} in {seconds:.1f}s, published {TUNING} {version}")
        return Fitted(TUNING, version, seconds, "tuned")

    def _two_tower(self, what: str, fitting: Fitting, settings, say) -> Fitted:  # type: ignore[no-untyped-def]
        data, courses, events, read_at, mark = fitting
        started = time.perf_counter()
        try:
            if what == "train":
                assert self.train_two_tower is not None
                shown = f" with {settings}" if settings else ""
                say(f"training {TWO_TOWER}{shown} on {len(events)} events")
                trained = self.train_two_tower().execute(
                    _every_few_seconds(say),
                    data=(courses, events),
                    data_version=str(data),
                    settings=settings,
                    read_at=read_at,
                    erasure_mark=mark,
                )
                version, note = trained.version, "trained"
            else:
                assert self.rebuild_index is not None
                # The model still knows only the events it was trained on.
                trained_on = self._published(TWO_TOWER).fitted_on
                now = DataVersion(data.catalog, trained_on.events if trained_on else "")
                rebuilt = self.rebuild_index().execute(reencode=True, data_version=str(now))
                version, note = rebuilt.version, f"re-embedded {rebuilt.indexed} courses"
        except StrategyUnavailable as error:
            say(f"{TWO_TOWER}: {error}")
            return Fitted(TWO_TOWER, None, time.perf_counter() - started, str(error))
        except StaleBase:
            return self._overtaken(TWO_TOWER, started)
        except OSError as error:
            return self._unpublished(TWO_TOWER, error, started)
        except UnloadableArtifact as error:  # a line each cycle, not a traceback
            log.error("%s; its published version stays", error)
            return Fitted(
                TWO_TOWER, None, time.perf_counter() - started, f"failed: {error}", failed=True
            )
        seconds = time.perf_counter() - started
        say(f"{TWO_TOWER} {note} in {seconds:.1f}s, published {version}")
        return Fitted(TWO_TOWER, version, seconds, note)

    def _unpublished(self, name: str, error: OSError, started: float) -> Fitted:
        """The artifact directory refused the write: one line saying so, not a traceback (the
        store removed what it had staged, so no half-written version is left)."""
        reason = error.strerror or str(error)
        where = f" ({error.filename})" if error.filename else ""
        note = f"failed: could not be published: {reason}{where}; its published version stays"
        log.error("%s %s", name, note.removeprefix("failed: "))
        return Fitted(name, None, time.perf_counter() - started, note, failed=True)

    def _overtaken(self, name: str, started: float) -> Fitted:
        """Another trainer (another host) published `name` while this one fitted: the compare-and-
        swap refused this older work. A warning, not an error: the rest of the cycle goes on."""
        note = (
            f"another trainer published version {self.store.current_version(name)} meanwhile; "
            "nothing was replaced"
        )
        log.warning("%s: %s", name, note)
        return Fitted(name, None, time.perf_counter() - started, note, overtaken=True)


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
