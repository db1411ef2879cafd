"""Storage ports: repositories and the unit of work that makes writes all-or-nothing."""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from application.evaluation.dataset import Dataset
from domain.model import (
    Course,
    CourseId,
    EventType,
    Interaction,
    LearnerHistory,
    RecommendationId,
    Slate,
    UserId,
)


class CourseRepository(abc.ABC):
    @abc.abstractmethod
    def get(self, course_id: CourseId) -> Course | None: ...

    @abc.abstractmethod
    def page(self, limit: int, offset: int) -> list[Course]:
        """Courses ordered by course_id."""

    @abc.abstractmethod
    def count(self) -> int: ...

    @abc.abstractmethod
    def all(self) -> list[Course]:
        """The whole catalog, ordered by course_id (catalogs are thousands, not millions)."""

    @abc.abstractmethod
    def upsert(self, courses: Sequence[Course]) -> None:
        """Insert new courses and replace existing ones with the same course_id."""

    @abc.abstractmethod
    def hold(self) -> None:
        """Make other units of work that hold the catalog wait until this one ends: what a write
        checked (no prerequisite cycle, the fields it kept) is still so when it commits."""

    @abc.abstractmethod
    def existing(self, course_ids: Iterable[CourseId]) -> set[CourseId]:
        """The subset of `course_ids` that are in the catalog."""

    @abc.abstractmethod
    def stored(self, course_ids: Iterable[CourseId]) -> dict[CourseId, Course]:
        """The stored courses of `course_ids`, by id (those not in the catalog left out)."""

    @abc.abstractmethod
    def required_by(self, course_ids: Iterable[CourseId]) -> dict[CourseId, list[CourseId]]:
        """For each of `course_ids` that active courses name as a prerequisite, those courses
        in id order (the others left out): asked of the prerequisites, not the whole catalog."""

    @abc.abstractmethod
    def version(self) -> str:
        """A cheap fingerprint that changes whenever the catalog changes."""


class InteractionRepository(abc.ABC):
    @abc.abstractmethod
    def add_batch(self, events: Sequence[Interaction]) -> int:
        """Store events in one round trip; events whose event_id is stored already are skipped.

        Returns how many were new.
        """

    @abc.abstractmethod
    def stored(self, event_ids: Iterable[str]) -> dict[str, Interaction]:
        """The stored events among `event_ids`, by event_id (to tell a retry from a conflict)."""

    @abc.abstractmethod
    def history(self, user_id: UserId) -> LearnerHistory:
        """All events of one learner, oldest first."""

    @abc.abstractmethod
    def stream(self, batch_size: int = 10_000) -> Iterator[Interaction]:
        """Every event, oldest first, fetched `batch_size` rows at a time."""

    @abc.abstractmethod
    def count(self) -> int: ...

    @abc.abstractmethod
    def popularity(self, weights: Mapping[EventType, float]) -> dict[CourseId, float]:
        """Each course's events, weighted by type, summed by the database (one aggregate): the
        stand-in popularity while none is published."""

    @abc.abstractmethod
    def version(self) -> str:
        """A cheap fingerprint that changes whenever events are added or removed."""

    @abc.abstractmethod
    def remove(self, event_ids: Iterable[str]) -> int:
        """Delete the events with these ids (voided xAPI statements); returns how many existed."""

    @abc.abstractmethod
    def miscredited(self, clear: bool = False, max_clock_skew: timedelta = timedelta(0)) -> int:
        """How many events are credited to a list their learner was not shown, for a course not
        in it, or dated more than `max_clock_skew` before it was served (accepted before such
        credit was refused); with `clear`, their credit (recommendation_id) is removed and the
        events themselves stay."""


@dataclass(frozen=True, slots=True)
class StatementRecord:
    """What we keep of an xAPI statement: enough for idempotency, voiding and erasure, no e-mail.

    `user_id` is the learner it is about (None for a group actor), `voids` the id of the statement
    a voiding statement voids."""

    statement_id: str
    content_hash: str
    user_id: UserId | None
    voids: str | None
    stored_at: datetime


class StatementRepository(abc.ABC):
    """Ids of the xAPI statements received so far (statement ids are UUIDs, lower case)."""

    @abc.abstractmethod
    def known(self, statement_ids: Iterable[str]) -> dict[str, str]:
        """statement id -> content hash, for the ids among `statement_ids` stored already."""

    @abc.abstractmethod
    def voided(self, statement_ids: Iterable[str]) -> set[str]:
        """The ids among `statement_ids` that a stored voiding statement voids."""

    @abc.abstractmethod
    def add(self, records: Sequence[StatementRecord]) -> int:
        """Store new statements (callers pass only ids `known` did not return); returns how many
        were stored: an id another transaction stored since `known` was asked is left alone."""


@dataclass(frozen=True, slots=True)
class Erasure:
    """A learner erased: the sha256 of their id (never the id), when, and what was removed."""

    user_hash: str
    erased_at: datetime
    counts: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class LatestErasure:
    """The most recent erasure that removed events: when, and its mark; and the mark of the
    newest erasure of all (at least as high)."""

    at: datetime
    mark: int
    newest: int


def erased_counts(events: int, lists: Mapping[str, int], statements: int) -> dict[str, int]:
    """What an erasure removed (`ErasureRepository.erase`), in the order `recsys erase-learner`
    has always said it: `lists` as `erase_lists` counts them."""
    return {
        "events": events,
        "slates": lists["slates"],
        "impressions": lists["impressions"],
        "statements": statements,
        "attributions": lists["attributions"],
    }


class ErasureRepository(abc.ABC):
    @abc.abstractmethod
    def hold(self, exclusive: bool = False) -> None:
        """Until the unit of work ends, erasures (`exclusive`) wait for the writes of learner
        events that hold this, and those for an erasure: an event logged while its learner is
        erased is either stored before the erasure removes it or checked after it is recorded."""

    @abc.abstractmethod
    def erase_lists(self, user_id: UserId) -> dict[str, int]:
        """Delete the slates served to one learner and their items; other learners' events
        attributed to them lose the attribution, here or (an adapter that locks rows) in `erase`,
        under the hold (the learner's own events are left to `erase`). Returns {"slates",
        "impressions", "attributions"} counts. No event write waits for these rows, so an erasure
        removes them before it holds the event writes off."""

    @abc.abstractmethod
    def erase(self, user_id: UserId) -> dict[str, int]:
        """Delete every row about one learner: events, served slates and their items, xAPI
        statements; other learners' events attributed to those slates lose the attribution.
        Returns {"events", "slates", "impressions", "statements", "attributions"} counts."""

    @abc.abstractmethod
    def record(self, erasure: Erasure) -> None: ...

    @abc.abstractmethod
    def latest(self) -> LatestErasure | None:
        """The most recent erasure that removed events (None: never). One that removed none (a
        learner never seen) changed no model, so models need not know of it."""

    @abc.abstractmethod
    def erased(self, user_hashes: Iterable[str]) -> dict[str, datetime]:
        """user hash -> when that learner was last erased, for the hashes among `user_hashes`."""

    @abc.abstractmethod
    def any(self) -> bool:
        """Whether any learner was ever erased: one cheap read that spares a batch of events
        the hashing and the lookup of its learners while nobody was."""

    @abc.abstractmethod
    def mark(self) -> int:
        """A number that grows with every erasure recorded, in the order they commit (0: none
        yet): what `erased_after` compares with."""

    @abc.abstractmethod
    def erased_after(self, user_hashes: Iterable[str], mark: int) -> dict[str, int]:
        """user hash -> the mark of their latest erasure, for those among `user_hashes` erased
        after `mark` was read."""


@dataclass(frozen=True, slots=True)
class SlateOutcome:
    """A served slate and the strongest event attributed to it (None: nothing happened)."""

    recommendation_id: RecommendationId
    strategy: str
    served_at: datetime
    best_event: EventType | None
    events: int
    selected_by: str | None = None
    fallback_from: str | None = None


@dataclass(frozen=True, slots=True)
class Shown:
    """Who a served slate was shown to, which courses and when: what an event crediting it must
    match."""

    user_id: UserId
    course_ids: frozenset[CourseId]
    served_at: datetime


class SlateRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, slate: Slate) -> None: ...

    @abc.abstractmethod
    def get(self, recommendation_id: RecommendationId) -> Slate | None: ...

    @abc.abstractmethod
    def existing(self, ids: Iterable[RecommendationId]) -> set[RecommendationId]: ...

    @abc.abstractmethod
    def any_named(self, prefix: str) -> bool:
        """Whether a list whose id begins with `prefix` was stored (the demo's lists: `demo-`):
        a list kept, or one an event names (the list removed past RS_LIST_RETENTION_DAYS)."""

    @abc.abstractmethod
    def shown(self, ids: Iterable[RecommendationId]) -> dict[RecommendationId, Shown]:
        """The served slates among `ids`, each with its learner and courses, in one lookup."""

    @abc.abstractmethod
    def outcomes(
        self, after: datetime, until: datetime, selected_by: str | None = None
    ) -> list[SlateOutcome]:
        """Slates served in (after, until] (only those `selected_by` chose, when given), each
        with its attributed events, oldest first."""

    @abc.abstractmethod
    def now(self) -> datetime:
        """The storage's clock (the database's on SQL), which every host reads alike: a window
        of slates that hosts take turns counting must end by one clock, not by each host's."""


class DatasetSource(abc.ABC):
    """Where an evaluation dataset comes from (a directory of files in a known format)."""

    @abc.abstractmethod
    def load(self) -> Dataset:
        """The whole dataset; raises DatasetError when it cannot be read."""


@dataclass(frozen=True)
class Artifact:
    """One verified version of a named artifact: its manifest and its files' bytes."""

    name: str
    version: str
    manifest: dict[str, Any]
    files: dict[str, bytes]

    @property
    def trained_at(self) -> str | None:
        """When the model in this version was fitted: its own publication, or, for a version a
        rebuild made (a new index of the same model), that of the version it was built from."""
        return self.manifest.get("trained_at") or self.manifest.get("created_at")


class CorruptArtifact(Exception):
    """A version is incomplete or a file does not match its checksum."""


class UnloadableArtifact(CorruptArtifact):
    """A version whose files match their checksums but cannot be loaded (published that way,
    e.g. crafted by hand): no refit mends it, going back to an earlier version does."""


class ArtifactsDenied(PermissionError):
    """The store refuses this process what it asked (a database role without privileges on the
    models' tables), as a folder refuses a user without permissions: no outage, and no fault of
    any version. The message says what to grant."""


class StaleBase(Exception):
    """A publish was based on a version that is no longer current: it would undo a newer one."""


#: publish(based_on=ANY): replace whatever is current
ANY = "*"


class ArtifactStore(abc.ABC):
    """Versioned artifacts (models, indexes, bandit state): written atomically, verified on load.

    Publishes of one name are serialised across processes; a publish `based_on` a version only
    happens while that version is still current (compare-and-swap), so a job that started from
    an older version can never replace a newer one."""

    @abc.abstractmethod
    def publish(
        self,
        name: str,
        files: Mapping[str, bytes],
        manifest: Mapping[str, Any],
        based_on: str | None = ANY,
    ) -> str:
        """Write a new version, then point "current" at it in one atomic step; returns the version.

        based_on: the version current when the work started (None: nothing was); raises StaleBase
        if another version became current since. ANY publishes unconditionally."""

    @abc.abstractmethod
    def current_version(self, name: str) -> str | None:
        """The version "current" points at (cheap: no file is read but the pointer)."""

    @abc.abstractmethod
    def versions(self, name: str) -> list[str]:
        """Every kept version, newest first."""

    def current_age(self, name: str) -> timedelta | None:
        """How long `current` has pointed at its version, by the store's own clock (the one every
        host sharing it sees, whatever each host's clock says), or None when it cannot tell."""
        return None

    @abc.abstractmethod
    def discard(self, name: str, version: str) -> None:
        """Remove a kept version that is not current (one holding a learner since erased: a
        rollback may not restore it, and its files must not keep them); raises ValueError for
        the current version, OSError when its files could not all be removed."""

    @abc.abstractmethod
    def check_writable(self) -> None:
        """Raise OSError if a publish could not write (a trainer checks before its first fit)."""

    def absent(self) -> str | None:
        """Where the store should be and is not (nothing published there yet, or a shared volume
        not mounted on this host), or None."""
        return None

    def location(self) -> str:
        """Where the store keeps its versions, for an operator's log ("" when nowhere to name)."""
        return ""

    @abc.abstractmethod
    def load(self, name: str, version: str, only: Iterable[str] | None = None) -> Artifact:
        """A version with its files (all, or those of `only` it has) checked against the
        manifest; raises CorruptArtifact."""

    @abc.abstractmethod
    def verify(self, name: str, version: str) -> Artifact:
        """The version's manifest (no files) once every file matched its checksum; raises
        CorruptArtifact. Cheap to repeat: a file is read again only when it changed on disk
        (size, modification time, inode) since this store last found it whole."""


#: learner -> course -> strongest event type, the input every model trainer learns from
Histories = Mapping[UserId, Mapping[CourseId, EventType]]
#: progress(epoch, epochs, training loss, validation recall@10)
EpochProgress = Callable[[int, int, float, float], None]


class ModelTrainer(abc.ABC):
    """Trains a model and turns it into artifact files (what TrainTwoTower and RebuildIndex drive)."""

    artifact_name: str

    @abc.abstractmethod
    def train(
        self, courses: Sequence[Course], histories: Histories, progress: EpochProgress | None = None
    ) -> tuple[dict[str, bytes], dict[str, Any]]:
        """Train on the catalog and the histories; returns (files, manifest fields)."""

    @abc.abstractmethod
    def reindex(
        self, artifact: Artifact, courses: Sequence[Course], reencode: bool
    ) -> tuple[dict[str, bytes], dict[str, Any]]:
        """The artifact's model with a rebuilt index: over its saved embeddings, or (reencode) over
        fresh embeddings of every course in `courses` computed by the model. An artifact whose
        model cannot be loaded raises UnloadableArtifact."""

    @abc.abstractmethod
    def with_settings(self, settings: Mapping[str, Any]) -> ModelTrainer:
        """A trainer like this one with `settings` (e.g. objective, members) overriding its own."""


JOB_STATES = ("queued", "running", "succeeded", "failed")


@dataclass(frozen=True, slots=True)
class Job:
    """A unit of background work (a reindex, a training), run by whichever trainer claims it."""

    job_id: str
    kind: str
    status: str  # one of JOB_STATES
    submitted_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    worker: str | None = None
    attempts: int = 0
    result: dict[str, Any] | None = None
    error: str | None = None


class JobRepository(abc.ABC):
    """Jobs in the shared database: every host sees them, and a job outlives the process that
    runs it. At most one job per kind is queued or running at a time.

    A run's times (started, heartbeats, finished) are the storage's clock, the database's on SQL,
    and a run's silence is judged by that same clock: each host's own clock is off by its own
    skew, and one off by more than the silence limit would take live jobs away from their
    trainers, or never queue again those of dead ones."""

    @abc.abstractmethod
    def submit(self, job: Job) -> bool:
        """Queue `job`; False (nothing queued) when a job of its kind is queued or running."""

    @abc.abstractmethod
    def claim(self, kinds: Sequence[str], worker: str) -> Job | None:
        """The oldest queued job of these kinds, now running for `worker`; None when none is
        queued or another worker claimed it first."""

    @abc.abstractmethod
    def heartbeat(self, run: Job) -> bool:
        """Record that `run` (a job as claimed: its worker and attempt) is alive; False once the
        job is no longer that run's (queued again after missed heartbeats, another worker's)."""

    @abc.abstractmethod
    def finish(
        self,
        run: Job,
        result: Mapping[str, Any] | None = None,
        error: str | None = None,
        silent_for: timedelta | None = None,
    ) -> bool:
        """Record the outcome of `run`, if the job is still that run's (with `silent_for`: and it
        has sent no heartbeat for that long); whether it was recorded."""

    @abc.abstractmethod
    def get(self, job_id: str) -> Job | None: ...

    @abc.abstractmethod
    def abandoned(self, silent_for: timedelta) -> list[Job]:
        """Running jobs whose worker has sent no heartbeat for `silent_for`."""

    @abc.abstractmethod
    def requeue(self, run: Job, silent_for: timedelta | None = None) -> bool:
        """Back to queued, for another worker, if the job is still `run`'s (with `silent_for`:
        and it has sent no heartbeat for that long: a worker that beat meanwhile keeps its job);
        whether it was."""

    @abc.abstractmethod
    def active(self) -> list[Job]:
        """The queued and running jobs (at most one of each kind)."""


@dataclass(frozen=True, slots=True)
class LastFit:
    """How a trainer's latest fit of one strategy went."""

    outcome: str  # published, failed, overtaken (by another trainer) or unpublished
    fit_seconds: float
    publish_seconds: float  # 0 when nothing was published


@dataclass(frozen=True, slots=True)
class TrainerTally:
    """What one trainer did since it started: its counts only ever grow while it runs."""

    fits: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (strategy, outcome)
    jobs: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (kind, succeeded|failed)
    last_fits: Mapping[str, LastFit] = field(default_factory=dict)  # strategy -> its latest fit
    #: the stats' closed days: "stored", "failed" (days), "lists_removed" (past the retention)
    stats: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TrainerBeat:
    """A trainer's latest fit cycle, as any host sees it."""

    worker: str  # host:pid
    started_at: datetime
    seen_at: datetime  # when its latest fit cycle ended
    last_cycle: str  # what that cycle did, in a line
    tally: TrainerTally = field(default_factory=TrainerTally)
    #: the settings it pins (strategy -> setting -> value), None from a trainer that did not say
    pins: Mapping[str, Mapping[str, Any]] | None = None


class TrainerRepository(abc.ABC):
    """The trainers at work, so that an operator on any host can tell a trainer that is alive and
    has nothing to do from one that is gone or failing."""

    @abc.abstractmethod
    def beat(self, beat: TrainerBeat, forget_before: datetime) -> None:
        """Record `beat` in place of its worker's last, and drop trainers not seen since
        `forget_before` (a restarted trainer is a new worker)."""

    @abc.abstractmethod
    def recent(self, since: datetime, limit: int | None = None) -> list[TrainerBeat]:
        """Trainers seen since `since`, the latest seen first, at most `limit` of them."""


class FitTurn(abc.ABC):
    """One trainer fits at a time, whichever host it runs on: trainers on several hosts (for
    one to go on when another is gone) otherwise each ran the whole settings search and
    training, and all but the first had their publish refused or replaced a model of the same
    data."""

    @abc.abstractmethod
    def taken(self) -> contextlib.AbstractContextManager[bool]:
        """Holds the turn while the block runs, and says True; says False at once, holding
        nothing, while another trainer holds it. A trainer that dies lets go of it."""

    @abc.abstractmethod
    def held(self) -> bool:
        """Whether a trainer (or train-two-tower) holds the turn now, taking nothing: a trainer
        killed while it fits leaves its row saying so, and only the turn tells it is gone."""


class AdminSessionRepository(abc.ABC):
    """Dashboard sessions in the shared database, so that a sign-out holds on every host. A
    session is known by a hash of its id (sha256, hex); the id itself is only in the cookie."""

    @abc.abstractmethod
    def open(self, session_hash: str, created_at: datetime, expires_at: datetime) -> None:
        """Record a new session, and drop every session expired by `created_at` (signing in is
        rare: the clean-up costs nothing noticeable there). StorageUnavailable when the database
        cannot record it, refusing writes (a read-only standby) included."""

    @abc.abstractmethod
    def active(self, session_hash: str, now: datetime) -> bool:
        """Whether the session exists, is not revoked and has not expired (one primary-key read)."""

    @abc.abstractmethod
    def revoke(self, session_hash: str, now: datetime) -> None:
        """Sign the session out (a session unknown or revoked already is left as it is).
        StorageUnavailable when the database cannot record it, as `open`."""


class CredentialFailureRepository(abc.ABC):
    """Wrong credentials per client, in the shared database, so that every worker and host counts
    the same ones. A client is a key (a hash of its address); what it sent is never kept."""

    @abc.abstractmethod
    def recent(self, client: str, since: datetime, limit: int) -> list[datetime]:
        """When `client` sent wrong credentials after `since`, the latest first, at most `limit`."""

    @abc.abstractmethod
    def add(self, client: str, at: datetime, forget_before: datetime) -> None:
        """Record one failure of `client`, and drop every client's failures before
        `forget_before`. StorageUnavailable when the database cannot record it, refusing
        writes (a read-only standby) included."""


@dataclass(frozen=True, slots=True)
class UserStats:
    user_id: UserId
    num_recommendations: int
    num_impressions: int
    num_clicks: int
    num_enrolls: int
    top_categories: list[tuple[str, int]]

    @property
    def ctr(self) -> float:
        return self.num_clicks / self.num_impressions if self.num_impressions else 0.0


@dataclass(frozen=True, slots=True)
class DailyStats:
    date: str
    strategy: str
    recommendations: int
    impressions: int
    clicks: int
    enrolls: int


@dataclass(frozen=True, slots=True)
class CoursePopularity:
    course_id: CourseId
    title: str
    enrolls: int
    clicks: int


class StatsRepository(abc.ABC):
    """Aggregates computed by the database (GROUP BY over indexed columns), never row by row.

    A click or enrolment counts for a strategy when it carries the recommendation_id of a slate
    that strategy served to its learner, for a course in it (attribution); an impression is one
    course shown in a served slate. Clicks of slates count impressions clicked or enrolled in (a
    click-through: some LMSs enrol from a list without a click event), enrolments those enrolled
    in, each course of a slate once however many events it got, so CTR stays in 0..1.
    """

    @abc.abstractmethod
    def user(self, user_id: UserId) -> UserStats: ...

    @abc.abstractmethod
    def daily(self, since: datetime) -> list[DailyStats]:
        """Per UTC day and strategy: slates served that day since `since`, their impressions, and
        how many of those were clicked and enrolled in, whenever."""

    @abc.abstractmethod
    def days_to_store(self) -> list[date]:
        """The closed UTC days whose figures (as daily() gives them) are not stored, or changed
        since they were, newest first. A store that counts every window from its lists stores
        none."""

    @abc.abstractmethod
    def store_day(self, day: date) -> None:
        """Count `day`'s figures and store them, for daily() to read while nothing changes them:
        each day's in its own unit of work, kept short."""

    @abc.abstractmethod
    def days_to_prune(self, before: date) -> list[date]:
        """The days before `before` whose figures are stored and current and whose lists may go,
        oldest first. A store that stores no figures prunes nothing (its windows count from the
        lists)."""

    @abc.abstractmethod
    def prune_day(self, day: date) -> int:
        """Remove `day`'s lists, keeping its stored figures for good, if they are stored and
        current (otherwise nothing: the day is stored again first); the number of lists
        removed. Each day in its own unit of work."""

    @abc.abstractmethod
    def popular_courses(self, since: datetime, limit: int) -> list[CoursePopularity]:
        """Courses by enrolment events (all of them, attributed or not) since `since`, then click
        events."""


class StorageUnavailable(Exception):
    """The database cannot be reached (down, frozen past its timeouts): try again later."""


class LockWaitTimedOut(StorageUnavailable):
    """The database answered, but a lock the work needed was held by another session for longer
    than the timeout (PostgreSQL's lock_timeout): a long read of the same table, say."""


class UnusableDatabase(StorageUnavailable):
    """The configured database is none: a SQLite file that does not exist, or is not a database.
    Waiting does not mend it; `recsys init-db` or correcting the setting does."""


class UnitOfWork(abc.ABC):
    """`with uow: ...; uow.commit()` - anything not committed is rolled back on exit. A lost
    connection leaves the block as StorageUnavailable, whatever the backend."""

    courses: CourseRepository
    interactions: InteractionRepository
    slates: SlateRepository
    stats: StatsRepository
    jobs: JobRepository
    trainers: TrainerRepository
    admin_sessions: AdminSessionRepository
    credential_failures: CredentialFailureRepository

    statements: StatementRepository
    erasures: ErasureRepository

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(self, *args: object) -> None:
        self.rollback()

    @abc.abstractmethod
    def commit(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None: ...

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise if the storage cannot be reached."""

    def schema_problem(self) -> str | None:
        """Why the storage's schema is not the one this version expects (never created, not
        upgraded), or None; storage without a schema has none."""
        return None

    def write_problem(self) -> str | None:
        """Why every write would fail though reads work (a read-only database), or None."""
        return None
