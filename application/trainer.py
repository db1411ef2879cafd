"""The trainer: the one process kind that fits. It runs queued jobs, refits whatever the data has
outdated (at most every `fit_interval` seconds) and credits the bandit; web workers only load
what it publishes. Several trainers may run (one per host): jobs are claimed by one of them, one
fits at a time (the others stand by, to go on when it is gone), and publishes are
compare-and-swap, so they never undo each other's work."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from application.pins import Pins, apart, normalised
from application.ports import (
    FitTurn,
    Job,
    LastFit,
    StorageUnavailable,
    TrainerBeat,
    TrainerTally,
    UnitOfWork,
    UnusableDatabase,
)
from application.use_cases.fit_strategies import EmptyCatalog, FitStrategies, Fitted
from application.use_cases.jobs import RunJobs
from application.use_cases.rebuild_index import RebuildIndex
from application.use_cases.store_daily_figures import StoreDailyFigures, first_line
from application.use_cases.update_bandit import UpdateBandit

log = logging.getLogger(__name__)
#: a trainer not seen for this long is no longer listed, nor kept
FORGET_AFTER = timedelta(days=7)
#: trainers seen this lately (and not stopped) have their pins compared: a daily cron's too
PINS_COMPARED = timedelta(days=1)


class Trainer:
    def __init__(
        self,
        fit: Callable[[], FitStrategies],
        jobs: Callable[[], RunJobs],
        update_bandit: Callable[[], UpdateBandit] | None = None,
        fit_interval: float = 60.0,
        poll_seconds: float = 2.0,
        say: Callable[[str], None] = log.info,
        uow_factory: Callable[[], UnitOfWork] | None = None,
        worker: str = "",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        fit_turn: FitTurn | None = None,
        store_figures: Callable[[], StoreDailyFigures] | None = None,
        pins: Pins | None = None,
    ) -> None:
        self.fit = fit
        #: the settings this trainer pins, recorded with its cycles for the others to compare
        self.pins = normalised(pins)
        #: stats windows' closed days, stored after each fit cycle (none: not stored)
        self.store_figures = store_figures
        #: closed days whose figures failed to store: tried after the others
        self._unstored: set[date] = set()
        self.jobs = jobs
        self.update_bandit = update_bandit
        self.fit_interval = fit_interval
        self.poll_seconds = poll_seconds
        self.say = say
        #: where each fit cycle is recorded for every host to see (none: not recorded)
        self.uow_factory, self.worker, self.clock = uow_factory, worker, clock
        self.started_at = clock()
        #: one trainer fits at a time (none: this one is alone); how long to wait for the turn
        self.fit_turn, self.turn_wait = fit_turn, 2.0
        self._stood_by = False
        self._fitted_at: float | None = None
        #: a fit the database dropped (an outage mid-fit): done again once it is back, not a
        #: fit interval later, its row saying "fitting" meanwhile with no turn held
        self._refit_now = False
        #: a fit cycle is fitting (set once something is stale), and the jobs of the latest cycle
        self._fit_running = False
        self._runner: RunJobs | None = None
        #: the latest beat: (what its cycle did, when it ended)
        self._latest: tuple[str, datetime] | None = None
        # what /metrics on every host reports of this trainer (TrainerTally), recorded with beats
        self._fits: Counter[tuple[str, str]] = Counter()
        self._jobs: Counter[tuple[str, str]] = Counter()
        self._last_fits: dict[str, LastFit] = {}
        self._stats: Counter[str] = Counter()

    def run_once(self, force: bool = False) -> list[Fitted]:
        """Jobs first (an operator is waiting for them), then a fit if one is due."""
        if self._fitted_at is None:
            # seen at once, not only after a long first fit or the job it claims first (a trainer
            # killed in that job would be named by the job and missing from the trainers view);
            # not as fitting: it holds no fitting turn yet
            self._beat(STARTED)
        runner = self._runner = self.jobs()
        runner.recover()
        ran: list[Job] = []
        while (job := runner.run_one()) is not None:
            self.say(
                f"job {job.job_id} ({job.kind}) {job.status}"
                + (f": {job.error}" if job.error else "")
            )
            self._jobs[(job.kind, job.status)] += 1
            ran.append(job)
        now = time.monotonic()
        recent = self._fitted_at is not None and now - self._fitted_at < self.fit_interval
        if not force and not self._refit_now and recent:
            if ran and self._latest is not None:  # the job counts now, not at the next cycle
                self._beat(*self._latest)
            return []
        self._fitted_at = now
        # waited a moment: another trainer's cycle with nothing to fit holds it for milliseconds,
        # and this one's beat would otherwise flicker to standing by
        with turn_waited(self.fit_turn, self.turn_wait) as ours:
            if not ours:
                if not self.stood_by:
                    self.say(f"{STANDING_BY}; it tries again every {self.fit_interval:g}s")
                self._stood_by = True
                self._beat(STANDING_BY)
                return []
            if self.stood_by:
                self.say("the fitting turn is free: this trainer fits again")
            self._stood_by = False
            return self._fit_cycle(force)

    @property
    def stood_by(self) -> bool:
        """Its latest cycle fitted nothing because another trainer held the fitting turn."""
        return self._stood_by

    def _fit_cycle(self, force: bool) -> list[Fitted]:
        """Refits what is due, credits the bandit and says so: while this trainer has the turn."""
        self._say_pins_apart()
        try:
            fitted = self.fit().execute(force=force, progress=self.say, starting=self._fitting)
        except Exception as error:
            self._refit_now = self._fit_running and isinstance(error, StorageUnavailable)
            self._fit_running = False
            if isinstance(error, EmptyCatalog):
                self._beat(str(error))
            raise
        # not in a finally: a stop mid-fit (a BaseException) leaves it set, to be said dropped
        self._fit_running = self._refit_now = False
        for item in fitted:
            if item.held:  # nothing was fitted: said, not counted as a fit
                self.say(f"{item.strategy}: {item.note}")
            else:
                self._count(item)
        if self.update_bandit is not None:
            fitted = [*fitted, *self._credit_bandit()]
        if self.store_figures is not None:
            self._store_figures()
        self._beat(summary(fitted))
        return fitted

    def _store_figures(self) -> None:
        """Closed days' stats figures: a saving for the windows, which count from events any
        day not stored, so a store that fails (the database busy, a day it cannot store) is
        said and tried again next cycle, and the cycle's fits stand."""
        try:
            stored = self.store_figures().execute(last=self._unstored)  # type: ignore[misc]
        except Exception as error:  # noqa: BLE001
            log.warning("stats figures not stored", exc_info=True)
            self.say(f"stats: the closed days' figures were not stored ({first_line(error)})")
            self._stats["failed"] += 1  # a day at least: an alert on failures sees the worst case
            return
        self._stats.update(
            stored=stored.days, failed=len(stored.failed), lists_removed=stored.pruned_lists
        )
        if stored.days:
            left = f" ({stored.left} left for the next cycles)" if stored.left else ""
            self.say(f"stats: stored the figures of {stored.days} days{left}")
        if stored.pruned_lists:
            self.say(
                f"stats: removed the {stored.pruned_lists} lists of {stored.pruned_days} days past "
                "RS_LIST_RETENTION_DAYS; their figures stay"
            )
        if stored.prune_failed is not None:
            day, why = stored.prune_failed
            self.say(
                f"stats: the lists of {day} were not removed ({why}); the next cycle tries again"
            )
        self._unstored |= {day for day, _ in stored.failed}
        for day, why in stored.failed:
            self.say(
                f"stats: the figures of {day} were not stored ({why}); its windows count it "
                "from events, and the next cycle tries again"
            )

    def _fitting(self) -> None:
        """Seen as fitting while a cycle fits (a long one read as the cycle before, its seen_at
        ageing as a dead trainer's would), since when the fit began (not the jobs before it)."""
        self._fit_running = True
        self._beat(FITTING)

    def in_progress(self) -> str:
        """What a stop now drops: "a fit", "job ID (KIND)" (given back to the queue), or ""
        between cycles, when nothing is."""
        if self._fit_running:
            return "a fit"
        job = self._runner.running if self._runner is not None else None
        return f"job {job.job_id} ({job.kind})" if job is not None else ""

    def run_once_then_stop(self, force: bool = False) -> list[Fitted]:
        """One cycle, then leave (`recsys trainer --once`, from cron say): its row keeps what
        the cycle did and says it stopped, rather than read as a trainer at rest and later,
        its seen_at ageing, as one killed or stuck."""
        try:
            return self.run_once(force=force)
        finally:
            # what the cycle said (an empty catalog too), unless it never ended
            latest = self._latest[0] if self._latest is not None else FITTING
            never_ended = latest in (FITTING, STARTED)
            self._beat_stopped("" if never_ended else f"{latest}; {RAN_ONCE}")

    def _credit_bandit(self) -> list[Fitted]:
        """The bandit's rewards, published like a fit: a publish the artifact directory refuses
        (a full disk) fails it alone in one line, as it does a strategy, not the whole cycle."""
        started = time.perf_counter()
        try:
            credited = self.update_bandit().execute()  # type: ignore[misc]
        except OSError as error:
            reason = f"{error.strerror or error}" + (
                f" ({error.filename})" if error.filename else ""
            )
            note = f"failed: could not be published: {reason}; its published version stays"
            log.error("bandit %s", note.removeprefix("failed: "))
            failed = Fitted("bandit", None, time.perf_counter() - started, note, failed=True)
            self._count(failed)
            return [failed]
        if credited.changed:
            self.say(f"bandit: {credited.message}")
        return []

    def _count(self, item: Fitted) -> None:
        self._fits[(item.strategy, outcome(item))] += 1
        fit_seconds = max(0.0, item.seconds - item.publish_seconds)
        self._last_fits[item.strategy] = LastFit(outcome(item), fit_seconds, item.publish_seconds)

    def _beat(self, last_cycle: str, seen_at: datetime | None = None) -> None:
        """Record the cycle that ended at `seen_at` (default: now) with what this trainer did."""
        if self.uow_factory is None:
            return
        now = self.clock()
        seen_at = seen_at or now
        self._latest = (last_cycle, seen_at)
        tally = TrainerTally(
            dict(self._fits), dict(self._jobs), dict(self._last_fits), +self._stats
        )
        with self.uow_factory() as uow:
            beat = TrainerBeat(self.worker, self.started_at, seen_at, last_cycle, tally, self.pins)
            uow.trainers.beat(beat, forget_before=now - FORGET_AFTER)
            uow.commit()

    def _say_pins_apart(self) -> None:
        """Each cycle while another trainer at work lately pins settings otherwise: the two
        refit each other's versions at every cycle (README, settings search)."""
        if self.uow_factory is None:
            return
        with self.uow_factory() as uow:
            beats = uow.trainers.recent(self.clock() - PINS_COMPARED)
        host = self.worker.rpartition(":")[0]
        for beat in beats:
            if beat.worker == self.worker or beat.pins is None or beat.last_cycle == STOPPED:
                continue
            if beat.worker.rpartition(":")[0] == host and beat.seen_at < self.started_at:
                # this host's trainer before a restart, killed (it never said it stopped): a
                # trainer at work beats every fit interval, so one here is seen again soon
                continue
            differ = apart(self.pins, beat.pins)
            if differ:
                log.warning(
                    "trainer %s (seen %s) pins settings otherwise: %s; trainers that pin "
                    "differently refit each other's versions at every cycle: give every "
                    "trainer's host the same pins",
                    beat.worker,
                    f"{beat.seen_at.isoformat()[:19].replace('T', ' ')} UTC",
                    "; ".join(differ),
                )

    def _beat_failed(self, error: Exception) -> None:
        """A cycle that failed is said too: a trainer failing every cycle is not one at rest."""
        try:
            self._beat(summary_of_failure(error))
        except Exception:  # noqa: BLE001 - the database may be what failed: the log has it
            log.debug("could not record the failed cycle", exc_info=True)

    def _beat_stopped(self, last_cycle: str = "") -> None:
        """A trainer that leaves says so (stopped, interrupted mid-fit, or no database where it
        points): its last cycle, "up to date" say, read as a trainer alive and at rest until its
        seen_at aged. Killed outright (SIGKILL), it cannot: an old seen_at tells."""
        try:
            self._beat(last_cycle or STOPPED)
        except Exception:  # noqa: BLE001 - the database may be why it stops: the log has it
            log.debug("could not record that the trainer stopped", exc_info=True)

    def run_forever(
        self,
        stop: threading.Event,
        prepare: Callable[[], None] | None = None,
        force: bool = False,
    ) -> None:
        """Cycles until `stop`; `prepare` (the migration) first, retried like a cycle. With
        `force`, the first cycle that runs to its end refits every strategy. A database outage is
        one warning when it starts and one line when it ends, not a traceback a cycle."""
        self.say(
            f"trainer started: fits at most every {self.fit_interval:g}s"
            + (", refitting every strategy first" if force else "")
        )
        try:
            self._cycles(stop, prepare, force)
        finally:
            self._beat_stopped()
        self.say("trainer stopped")

    def _cycles(
        self, stop: threading.Event, prepare: Callable[[], None] | None, force: bool
    ) -> None:
        down = False
        while not stop.is_set():
            try:
                if prepare is not None:
                    prepare()
                    prepare = None
                self.run_once(force=force)
                force = force and self.stood_by  # forced until a cycle of its own ran
                if down:
                    self.say("database is back; the trainer carries on")
                down = False
            except EmptyCatalog as error:  # a line each fit cycle, not a traceback
                log.warning("%s", error)
            except StorageUnavailable as error:
                if prepare is not None and isinstance(error, UnusableDatabase):
                    raise  # no database where it points: waiting for one would never end
                if not down:
                    log.warning(
                        "database unavailable (%s); the trainer tries again every %gs",
                        error,
                        self.poll_seconds,
                    )
                down = True
            except Exception as error:  # noqa: BLE001 - a bug in one cycle must not end it
                if prepare is not None:
                    raise  # the migration itself is wrong: waiting would not mend it
                log.exception("trainer cycle failed; trying again in %ss", self.poll_seconds)
                self._beat_failed(error)
            stop.wait(self.poll_seconds)


#: a trainer's line once it started, before its first cycle (jobs first; no turn held yet)
STARTED = "started"
#: a trainer's line while a cycle fits, holding the fitting turn (its seen_at: when that
#: began), and a stopped trainer's (its seen_at: when it stopped)
FITTING = "started: fitting"
STOPPED = "stopped: no longer fitting"
TURN_POLL_SECONDS = 0.25
#: a trainer's line while another holds the fitting turn (it runs jobs meanwhile): an operator's
#: `recsys train-two-tower` holds it too, and no trainer then says it is fitting
HOLDER = "another trainer or train-two-tower"
STANDING_BY = f"standing by: {HOLDER} is fitting"
#: the same line as releases before 2026-11-30 wrote it: such a trainer stands by beside this
#: release's during a rolling upgrade
STANDING_BY_BEFORE = "standing by: another trainer is fitting"
#: how the cycle of a trainer run once ends
RAN_ONCE = "stopped: ran once"


def summary(fitted: Sequence[Fitted]) -> str:
    """A fit cycle in a line, for the operator."""
    held = [f"{f.strategy} (restores {f.held})" for f in fitted if f.held]
    # said every cycle: a hold forgotten keeps a strategy on old data until someone releases it
    said_held = (
        [f"held by a rollback: {', '.join(held)}; `recsys rollback STRATEGY --release` ends it"]
        if held
        else []
    )
    if len(held) == len(fitted):
        return "; ".join(["up to date: nothing to refit", *said_held])
    published = [f.strategy for f in fitted if f.version]
    failed = [f"{f.strategy} ({f.note.removeprefix('failed: ')})" for f in fitted if f.failed]
    overtaken = [f.strategy for f in fitted if f.overtaken]
    repaired = [f.strategy for f in fitted if f.repaired]
    said = [f"published {', '.join(published)}"] if published else []
    said += [f"replaced damaged versions of {', '.join(repaired)}"] if repaired else []
    said += [f"failed: {'; '.join(failed)}"] if failed else []
    said += [f"overtaken by another trainer: {', '.join(overtaken)}"] if overtaken else []
    line = "; ".join([*(said or ["fitted: nothing new to publish"]), *said_held])
    return line if len(line) <= 500 else line[:499] + "…"


def outcome(item: Fitted) -> str:
    if item.version:
        return "published"
    if item.failed:
        return "failed"
    return "overtaken" if item.overtaken else "unpublished"


def summary_of_failure(error: Exception) -> str:
    line = f"failed: {type(error).__name__}: {error}"
    return line if len(line) <= 500 else line[:499] + "…"


def job_handlers(
    rebuild_index: Callable[[], RebuildIndex],
) -> dict[str, Callable[[], dict[str, Any]]]:
    """What each kind of job does, and what its status reports when it succeeded. (Fitting is
    the trainer's own cycle, `recsys trainer --once --force` to force it: no job asks for it.)"""

    def reindex() -> dict[str, Any]:
        result = rebuild_index().execute(reencode=True)
        return {"version": result.version, "previous": result.previous, "indexed": result.indexed}

    return {"reindex": reindex}


@contextlib.contextmanager
def turn_waited(
    fit_turn: FitTurn | None, wait: float | None, waiting: Callable[[], None] = lambda: None
) -> Iterator[bool]:
    """Holds the fitting turn while the block runs, waited for up to `wait` seconds (None: until
    it is free; `waiting` is called once if it is not free at once); says whether it is held.
    No turn (a process alone): always held."""
    if fit_turn is None:
        yield True
        return
    waited = 0.0
    while True:
        with fit_turn.taken() as ours:
            if ours or (wait is not None and waited >= wait):
                yield ours
                return
        if waited == 0.0:
            waiting()
        time.sleep(TURN_POLL_SECONDS)
        waited += TURN_POLL_SECONDS


#: a trainer seen fitting for longer than this while no one holds the fitting turn is gone
SURELY_FITTING = timedelta(minutes=2)


def statuses(beats: Sequence[TrainerBeat], turn_free: bool, now: datetime) -> list[str]:
    """Each trainer's state in one line. One trainer fits at a time: one seen fitting while no
    one holds the fitting turn, or before another trainer began fitting, was killed or its host
    is gone (it never said it stopped, and read as fitting for days). One that began a moment
    ago may not hold the turn yet when it was read, nor one whose clock is behind: so only one
    seen fitting for over SURELY_FITTING."""
    began = {b.worker: b.seen_at for b in beats if b.last_cycle == FITTING}
    latest = max(began.values(), default=None)
    gone = {
        worker
        for worker, at in began.items()
        if now - at > SURELY_FITTING and (turn_free or (latest is not None and at < latest))
    }
    return [_status(b, b.worker in gone) for b in beats]


def _status(beat: TrainerBeat, gone: bool) -> str:
    """Its seen_at is when its latest cycle ended, except while a cycle fits (when that began)
    and once it stopped (when it did)."""
    at = f"{beat.seen_at.isoformat()[:19].replace('T', ' ')} UTC"
    last = beat.last_cycle
    if last == FITTING:
        if gone:
            return (
                f"gone: fitting since {at}, it no longer holds the fitting turn and never said "
                "it stopped (killed, or its host is down); its fit was dropped"
            )
        return f"fitting since {at}"
    if last == STARTED:
        return f"started at {at}: jobs first, then its first fit cycle"
    if last.endswith(f"; {RAN_ONCE}"):
        return f"stopped at {at} (ran once): {last.removesuffix(f'; {RAN_ONCE}')}"
    if last in (STANDING_BY, STANDING_BY_BEFORE):
        return f"standing by at {at}: {HOLDER} is fitting"
    if last == STOPPED:
        return f"stopped at {at}: no longer fitting"
    return f"last fit cycle ended {at}: {last}"
