"""The published recommenders a web worker answers with: loaded, never fitted.

The trainer fits each strategy and publishes it as a versioned artifact; a thread of each worker
checks the artifacts' `current` pointers and the catalog's version every `refresh_seconds`, whether
requests arrive or not, loads what changed and swaps the whole snapshot at once. Requests never
wait for a load (but the first, and one naming a course the database has and the snapshot not yet),
and a version that cannot be loaded leaves the last good one answering.
The composites (the hybrid) are built with the settings the trainer last chose ("tuning"), except
those the operator pinned.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import InitVar, dataclass, field, fields
from typing import Any

from application.manifests import fitted_with
from application.ports import (
    Artifact,
    ArtifactsDenied,
    ArtifactStore,
    CorruptArtifact,
    StorageUnavailable,
    UnitOfWork,
)
from application.use_cases.fit_strategies import TUNING, published_settings
from domain.errors import InvalidStrategy, StrategyUnavailable
from domain.model import (
    Course,
    CourseId,
    Interaction,
    LearnerHistory,
    Level,
    Outside,
    Recommendation,
)
from domain.ports import Recommender

log = logging.getLogger(__name__)

#: while the database fails the refresher's checks, a line says so this often (and once at first)
FAILING_REPEAT_SECONDS = 300.0

#: a version that failed to load is tried again after this long, then twice as long each time up
#: to RETRY_MAX_SECONDS: a read that failed once (a shared volume showing the `current` pointer
#: before the files it names are whole, a network file system's hiccup) is not the version's
#: fault, and the worker would answer from the version before it until the next publish
RETRY_SECONDS = 30.0
RETRY_MAX_SECONDS = 600.0

#: course ids a snapshot keeps in its filters' sets of courses kept, all filters together (some
#: 50 B each: 25 MB a worker at most; the rest worked out per request)
MAX_FILTERED_IDS = 500_000
#: strategy name -> a stand-in computed from the database while nothing is published
Fallback = Callable[[UnitOfWork, Mapping[CourseId, Course]], Recommender]


@dataclass(frozen=True)
class Loaded:
    """The published version a strategy answers from, and what its manifest says of it."""

    #: None: nothing published yet (a fallback answers)
    version: str | None = None
    #: when its model was fitted (ISO 8601; a rebuild keeps its model's)
    trained_at: str | None = None
    #: {"restores": version, "held": bool} when it is an operator's rollback, else {}
    rollback: Mapping[str, Any] = field(default_factory=dict)
    #: the settings its model was fitted with
    fitted: Mapping[str, Any] = field(default_factory=dict)
    #: the erasure mark read before the data its model was fitted on (None: older versions,
    #: told by trained_at)
    erasure_mark: Any = None

    @classmethod
    def of(cls, artifact: Artifact | None) -> Loaded:
        if artifact is None:
            return cls()
        manifest = artifact.manifest
        return cls(
            artifact.version,
            artifact.trained_at,
            _rollback(manifest),
            fitted_with(manifest),
            manifest.get("erasure_mark"),
        )


@dataclass(frozen=True)
class Snapshot:
    """A catalog and the recommenders loaded for it, swapped as a whole."""

    version: str
    courses: Mapping[CourseId, Course]
    recommenders: Mapping[str, Recommender] = field(default_factory=dict)
    #: strategy -> the published version it answers from
    loaded: Mapping[str, Loaded] = field(default_factory=dict)
    #: strategy -> what went wrong loading it
    errors: Mapping[str, str] = field(default_factory=dict)
    #: the published tuning's manifest (settings and validation figures per strategy), or {}
    tuning: Mapping[str, Any] = field(default_factory=dict)
    #: the snapshot before: its sets are kept if it holds the same catalog
    previous: InitVar[Snapshot | None] = None
    # The sets requests filter by, computed with the snapshot (by the refresher, off the
    # request path), not by the first request after each change.
    ids: frozenset[CourseId] = field(init=False)
    inactive: frozenset[CourseId] = field(init=False)
    #: offered courses that a learner who has taken nothing can never reach: a course on the
    #: path of their prerequisites is inactive or gone from the catalog
    closed_to_newcomers: frozenset[CourseId] = field(init=False)
    #: lower-cased category -> its courses
    categories: Mapping[str, frozenset[CourseId]] = field(init=False)
    levels: Mapping[Level, frozenset[CourseId]] = field(init=False)
    #: (lower-cased category, level) -> the courses those filters leave out, as asked
    filtered: dict[tuple[str | None, Level | None], Outside] = field(init=False)

    def __post_init__(self, previous: Snapshot | None) -> None:
        sets = (
            {f.name: getattr(previous, f.name) for f in fields(self) if not f.init}
            if previous is not None and previous.courses is self.courses
            else _catalog_sets(self.courses)
        )
        for name, value in sets.items():
            object.__setattr__(self, name, value)  # frozen: set once, here

    def outside(self, category: str | None, level: Level | None) -> Outside:
        """The courses a request's category and level filters leave out, held as the catalog's
        courses they keep: worked out once per catalog and filters, not per request."""
        key = (category.lower() if category is not None else None, level)
        found = self.filtered.get(key)
        if found is None:
            kept = self.ids
            if category is not None:
                kept &= self.categories.get(key[0], frozenset())  # type: ignore[index]
            if level is not None:
                kept &= self.levels.get(level, frozenset())
            found = Outside(self.courses, kept)
            # a copy of the values: another request thread may add a filter meanwhile
            held = sum(len(f.kept) for f in tuple(self.filtered.values()))
            if held + len(kept) <= MAX_FILTERED_IDS:
                self.filtered[key] = found
        return found

    def missing(self) -> list[str]:
        """Strategies with no published version loaded (they answer with a fallback)."""
        return sorted(n for n, about in self.loaded.items() if about.version is None)


def _catalog_sets(courses: Mapping[CourseId, Course]) -> dict[str, Any]:
    """A Snapshot's sets of `courses`, by name."""
    categories: dict[str, set[CourseId]] = {}
    levels: dict[Level, set[CourseId]] = {}
    for course in courses.values():
        categories.setdefault(course.category.lower(), set()).add(course.course_id)
        levels.setdefault(course.level, set()).add(course.course_id)
    return {
        "ids": frozenset(courses),
        "inactive": frozenset(c for c, course in courses.items() if not course.active),
        "closed_to_newcomers": _closed_to_newcomers(courses),
        "categories": {name: frozenset(ids) for name, ids in categories.items()},
        "levels": {level: frozenset(ids) for level, ids in levels.items()},
        "filtered": {},
    }


def _closed_to_newcomers(courses: Mapping[CourseId, Course]) -> frozenset[CourseId]:
    """Active courses that a learner who has taken nothing can never reach (what
    LearnerHistory.out_of_reach finds for them): a course on the path of their prerequisites is
    inactive or gone. Worked out from those courses towards the ones that need them, each
    course once: a walk of each course's path took 10 s for a chain of 5,000 prerequisites."""
    required_by: dict[CourseId, list[CourseId]] = {}
    for course in courses.values():
        for prerequisite in course.prerequisites:
            required_by.setdefault(prerequisite, []).append(course.course_id)
    blocked = deque(p for p in required_by if p not in courses or not courses[p].active)
    closed: set[CourseId] = set()
    while blocked:
        for needing in required_by.get(blocked.popleft(), ()):
            if needing not in closed and courses[needing].active:
                closed.add(needing)
                blocked.append(needing)
    return frozenset(closed)


class Unavailable(Recommender):
    """Stands in for a strategy with nothing published: not ready, so requests fall back."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def ready(self) -> bool:
        return False

    def fit(self, courses: Sequence[Course], interactions: Sequence[Interaction]) -> None:
        pass

    def recommend(
        self,
        learner: LearnerHistory,
        k: int,
        exclude: AbstractSet[CourseId] = frozenset(),
        explain: bool = True,
    ) -> list[Recommendation]:
        return []

    def similar(
        self, course_id: CourseId, k: int, exclude: AbstractSet[CourseId] = frozenset()
    ) -> list[Recommendation]:
        raise StrategyUnavailable(f"{self.name} is unavailable")


class StrategyRegistry:
    """Loads and caches a Snapshot; checks for new versions at most every `refresh_seconds`
    (0: on every call, synchronously, for tests and single-user tools)."""

    def __init__(
        self,
        factories: Mapping[str, Callable[[], Recommender]],
        uow_factory: Callable[[], UnitOfWork],
        artifacts: ArtifactStore,
        refresh_seconds: float = 30.0,
        composites: Mapping[str, Callable[[Mapping[str, Recommender]], Recommender]] | None = None,
        fallbacks: Mapping[str, Fallback] | None = None,
        on_loaded: Callable[[str, str | None], None] | None = None,
        pins: Mapping[str, Mapping[str, Any]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.factories = dict(factories)
        #: settings the operator fixed: a published tuning never overrides them
        self.pins = {name: dict(values) for name, values in (pins or {}).items()}
        #: told of the version each strategy answers from after every load (metrics)
        self.on_loaded = on_loaded
        #: strategies built from the loaded others (the hybrid), rebuilt with every snapshot
        self.composites = dict(composites or {})
        self.fallbacks = dict(fallbacks or {})
        self.uow_factory = uow_factory
        self.artifacts = artifacts
        self.refresh_seconds = refresh_seconds
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        #: the process whose refresher thread runs (a forked worker starts its own)
        self._refreshing_in: int | None = None
        self._starting = threading.Lock()
        #: while checks fail: since when, and when a line last said so
        self._failing_since: float | None = None
        self._said_at = 0.0
        self.clock = clock
        #: while a version failed to load: when to try it again, and the wait before that try
        self._retry_at: float | None = None
        self._retry_wait = RETRY_SECONDS

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
        """The current snapshot; the refresher thread keeps it up to date. Only the first call,
        `force_check` (a course the snapshot does not know yet) and, with refresh_seconds 0,
        every call check now and wait for what they load."""
        self._keep_refreshing()
        current = self._snapshot
        if current is None or self.refresh_seconds <= 0 or force_check:
            with self._lock:  # waits for a check under way: it may load what is wanted
                if self._snapshot is None or self._snapshot is current:
                    self._check()
            current = self._snapshot
        return current  # type: ignore[return-value]

    def snapshot_knowing(self, course_id: CourseId) -> Snapshot:
        """A snapshot that holds `course_id` if the database does: a course added since the last
        check is looked up (one read by key), and if it exists the snapshot is refreshed now."""
        snapshot = self.snapshot()
        if course_id in snapshot.courses or self.refresh_seconds <= 0:
            return snapshot
        with self.uow_factory() as uow:
            stored = uow.courses.get(course_id) is not None
        return self.snapshot(force_check=True) if stored else snapshot

    def _keep_refreshing(self) -> None:
        """Starts this process's refresher thread (once, and again in a forked child, which
        inherits no threads)."""
        if self.refresh_seconds <= 0 or self._refreshing_in == os.getpid():
            return
        with self._starting:
            if self._refreshing_in == os.getpid():
                return
            if self._refreshing_in is not None:
                # forked: the parent's refresher may have held the lock at that moment, and no
                # thread of the child would ever release it
                self._lock = threading.Lock()
            self._refreshing_in = os.getpid()
            threading.Thread(
                target=_refresh_every,
                args=(weakref.ref(self), self.refresh_seconds),
                name="snapshot-refresher",
                daemon=True,
            ).start()

    def _check_in_background(self) -> None:
        try:
            with self._lock:
                self._check()
        except StorageUnavailable as error:  # an outage is a line now and then, not a traceback
            now = time.monotonic()
            if self._failing_since is None or now - self._said_at >= FAILING_REPEAT_SECONDS:
                self._failing_since = self._failing_since or now
                self._said_at = now
                log.warning("could not check for new versions (%s); answering as before", error)
            return
        except Exception:  # noqa: BLE001 - a failed check keeps the snapshot we have
            log.exception("could not check for new versions; answering from the last snapshot")
            return
        if self._failing_since is not None:
            log.info(
                "checking for new versions again after %.0f s",
                time.monotonic() - self._failing_since,
            )
            self._failing_since = None

    def _check(self) -> None:
        self._snapshot = self._refresh(self._snapshot)

    def _refresh(self, current: Snapshot | None) -> Snapshot:
        try:
            versions = {name: self.artifacts.current_version(name) for name in self.factories}
            versions[TUNING] = self.artifacts.current_version(TUNING)
            denied = ""
        except ArtifactsDenied as error:
            # the database answers, the models' tables alone refuse this role: the stand-ins
            # answer (popularity from the database), and what to grant is said, not a 500
            versions, denied = dict.fromkeys([*self.factories, TUNING]), str(error)
        # the database only for what it says; a load of model files takes seconds at scale, and
        # a connection held meanwhile is one the requests wait for
        with self.uow_factory() as uow:
            catalog_version = uow.courses.version()
            # While a strategy has nothing published its stand-in follows the events.
            live = (
                uow.interactions.version()
                if any(versions[n] is None for n in self.fallbacks)
                else ""
            )
            key = f"{catalog_version}|{sorted(versions.items())}|{live}|{denied}"
            retrying = self._retry_at is not None and self.clock() >= self._retry_at
            if current is not None and current.version == key and not retrying:
                return current
            same_catalog = current is not None and current.version.split("|")[0] == catalog_version
            courses = (
                current.courses  # type: ignore[union-attr]
                if same_catalog
                else {c.course_id: c for c in uow.courses.all()}
            )
        started = time.perf_counter()
        recommenders: dict[str, Recommender] = {}
        loaded: dict[str, Loaded] = {}
        errors: dict[str, str] = {}
        tuning = self._tuning(current, versions.pop(TUNING))
        if denied:
            log.error("no model can be loaded: %s", denied)
        for name, version in versions.items():
            kept = current.recommenders.get(name) if current else None
            before = current.loaded.get(name, Loaded()) if current else Loaded()
            if same_catalog and kept is not None and before.version == version:
                recommenders[name], loaded[name] = kept, before
                continue
            try:
                recommender, artifact, error = self._load(name, version, courses)
            except ArtifactsDenied as refused:  # the versions readable, not their files
                log.error("%s cannot be loaded: %s", name, refused)
                recommender, artifact, error = None, None, str(refused)
            loaded[name] = Loaded.of(artifact)
            if recommender is None and kept is not None and kept.ready:
                # e.g. the models folder was deleted: the copy in memory is still good
                recommender, loaded[name] = kept, before
                if denied:
                    error = f"{denied}; answering from the copy in memory ({before.version})"
                elif version is None:
                    error = (
                        f"no published {name} version is left in the artifact store; "
                        f"answering from the copy in memory ({before.version})"
                    )
            if recommender is None and name in self.fallbacks:
                with self.uow_factory() as uow:
                    recommender = self.fallbacks[name](uow, courses)
            error = error or denied
            if error:
                errors[name] = error
            recommenders[name] = recommender or Unavailable(name)
        chosen = tuning.get("settings", {})
        for name, compose in self.composites.items():
            pinned = self.pins.get(name, {})
            settings = {k: v for k, v in chosen.get(name, {}).items() if k not in pinned}
            recommenders[name] = compose(dict(recommenders), **settings)
        for name, about in loaded.items():
            if self.on_loaded is not None:
                self.on_loaded(name, about.version)
        # with the catalog's sets, which the snapshot works out when the catalog changed
        snapshot = Snapshot(key, courses, recommenders, loaded, errors, tuning, previous=current)
        log.info(
            "loaded %s for %d courses in %.3fs",
            ", ".join(f"{n} {about.version or '(none)'}" for n, about in loaded.items()),
            len(courses),
            time.perf_counter() - started,
        )
        self._retry_later(bool(errors), again=current is not None and current.version == key)
        return snapshot

    def _retry_later(self, failed: bool, again: bool) -> None:
        """After a load: when to try a version that failed again (none failed: never), waiting
        twice as long after each failed retry of the same versions."""
        if not failed:
            self._retry_at, self._retry_wait = None, RETRY_SECONDS
            return
        self._retry_wait = min(self._retry_wait * 2, RETRY_MAX_SECONDS) if again else RETRY_SECONDS
        self._retry_at = self.clock() + self._retry_wait

    def _tuning(self, current: Snapshot | None, version: str | None) -> Mapping[str, Any]:
        if current is not None and current.tuning.get("version") == version:
            return current.tuning
        try:
            return published_settings(self.artifacts)[1] if version else {}
        except Exception as error:  # noqa: BLE001 - a bad tuning must not stop the models
            log.error(
                "tuning version %s rejected (%s); the configured settings apply", version, error
            )
            return {}

    def _load(
        self, name: str, version: str | None, courses: Mapping[CourseId, Course]
    ) -> tuple[Recommender | None, Artifact | None, str]:
        """The newest loadable version at or before `version` (the recommender, and the
        artifact it was restored from), with what went wrong on the way. After `version`, a
        rollback's copy, come the version it restores and those before that: never the version
        an operator rolled back from."""
        if version is None:
            return None, None, ""
        problems: list[str] = []
        floor = _restores(self.artifacts, name, version) or version
        older = [v for v in self.artifacts.versions(name) if v <= floor and v != version]
        for candidate in [version, *older]:
            recommender = self.factories[name]()
            try:
                manifest = self.artifacts.load(name, candidate, only=()).manifest
                artifact = self.artifacts.load(
                    name, candidate, only=recommender.serving_files(manifest)
                )
                recommender.restore(artifact.files, artifact.manifest, courses)
            except (StorageUnavailable, ArtifactsDenied):
                # the store could not be read (models in the database, during an outage, or by
                # a role not granted its tables): no fault of the version, tried again later
                raise
            except Exception as error:  # noqa: BLE001 - see below
                # A version is files from disk: whatever they make a loader raise (a pickle that
                # torch's weights-only loader refuses, ids of the wrong type) is that version's
                # fault, and the one before it answers; escaping, it would fail every request.
                problem = f"{name} version {candidate} rejected: {_said(error)}"
                log.error(problem)
                problems.append(problem)
                continue
            return recommender, artifact, "; ".join(problems)
        return None, None, "; ".join(problems)


def _said(error: Exception) -> str:
    """An error in one line: its own words for the checks' errors, else its type first (a
    loader's message alone, e.g. "unhashable type: 'dict'", does not say what failed)."""
    # torch's messages carry terminal escapes (bold): not for a log line or a JSON answer
    first = re.sub(r"\x1b\[[0-9;]*m", "", (str(error).strip().splitlines() or [""])[0])[:300]
    if isinstance(error, CorruptArtifact | ValueError):
        return first or type(error).__name__
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def _restores(artifacts: ArtifactStore, name: str, version: str) -> str | None:
    """The version a rollback's copy `version` restores (None: not a rollback, or a manifest
    that cannot be read, which the load then says)."""
    try:
        restores = artifacts.load(name, version, only=()).manifest.get("restores")
    except (StorageUnavailable, ArtifactsDenied):
        raise  # the store, not the version: the check is tried again whole
    except Exception:  # noqa: BLE001 - the load of `version` itself reports it
        return None
    return restores if isinstance(restores, str) else None


def _rollback(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    """What the admin view says of a version an operator's rollback published ({}: none)."""
    if not manifest.get("restores"):
        return {}
    return {"restores": manifest["restores"], "held": bool(manifest.get("held"))}


def _refresh_every(registry: weakref.ref[StrategyRegistry], seconds: float) -> None:
    """The refresher thread: a check every `seconds`, until the registry is gone (it holds only
    a weak reference, so an app that is dropped, as in tests, takes its thread with it)."""
    while True:
        time.sleep(seconds)
        alive = registry()
        if alive is None:
            return
        alive._check_in_background()
        del alive
