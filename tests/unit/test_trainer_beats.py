"""Each trainer says on the shared database what its fit cycles did, for every host to read."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.in_memory import InMemoryStore, InMemoryUnitOfWork
from application.trainer import Trainer, summary
from application.use_cases.fit_strategies import Fitted
from tests.conftest import NOW
from tests.unit.test_trainer_outages import Jobs


class Fit:
    def __init__(self, cycles: list[list[Fitted]]) -> None:
        self.cycles = cycles

    def execute(self, force: bool = False, progress=None, starting=lambda: None):  # type: ignore[no-untyped-def]
        cycle = self.cycles.pop(0)
        if cycle:  # something to fit, as FitStrategies says before it reads the data
            starting()
        return cycle


def test_a_trainer_is_seen_when_it_starts_fitting_and_after_each_fit_cycle():
    store = InMemoryStore()
    uow = lambda: InMemoryUnitOfWork(store)  # noqa: E731
    seen: list[str] = []
    moments = iter(NOW + timedelta(minutes=m) for m in range(10))
    fit = Fit(
        [
            [
                Fitted("popularity", "v1", 0.1),
                Fitted("item_cf", None, 0.2, "failed: boom", failed=True),
            ],
            [],
        ]
    )

    def watched() -> Fit:
        with uow() as unit:
            seen.extend(t.last_cycle for t in unit.trainers.recent(NOW - timedelta(days=1)))
        return fit

    trainer = Trainer(
        watched, Jobs, fit_interval=0, uow_factory=uow, worker="host:7", clock=lambda: next(moments)
    )
    trainer.run_once()
    assert seen == ["started"]  # listed at once, before jobs and its first (long) fit
    trainer.run_once()
    with uow() as unit:
        (listed,) = unit.trainers.recent(NOW - timedelta(days=1))
    assert listed.worker == "host:7" and listed.started_at == NOW
    assert listed.last_cycle == "up to date: nothing to refit"
    assert listed.seen_at > NOW + timedelta(minutes=1)


def test_a_later_cycle_is_seen_fitting_while_it_fits_and_a_cycle_with_nothing_to_fit_is_not():
    """A long refit read as the cycle before ("up to date"), its seen_at ageing as a dead
    trainer's would, until it ended."""
    store = InMemoryStore()
    uow = lambda: InMemoryUnitOfWork(store)  # noqa: E731
    moments = iter(NOW + timedelta(minutes=m) for m in range(20))
    trainer = Trainer(
        lambda: fit,
        Jobs,
        fit_interval=0,
        uow_factory=uow,
        worker="h:1",
        clock=lambda: next(moments),
    )

    def listed() -> tuple[str, object]:
        with uow() as unit:
            (beat,) = unit.trainers.recent(NOW - timedelta(days=1))
        return beat.last_cycle, beat.seen_at

    class Watched(Fit):
        def execute(self, force: bool = False, progress=None, starting=lambda: None):  # type: ignore[no-untyped-def]
            def watched() -> None:
                starting()
                during.append(listed())

            return super().execute(force, progress, watched)

    during: list[tuple[str, object]] = []
    fit = Watched([[Fitted("popularity", "v1", 0.1)], [], [Fitted("item_cf", "v2", 0.1)]])
    trainer.run_once()
    assert listed()[0] == "published popularity"
    trainer.run_once()  # nothing to refit: no beat says it is fitting
    assert listed()[0] == "up to date: nothing to refit" and len(during) == 1
    up_to_date_at = listed()[1]
    trainer.run_once()
    (first, _), (later, later_at) = during
    assert first == later == "started: fitting"
    assert later_at > up_to_date_at  # seen when the refit began, not only when it ends
    assert listed()[0] == "published item_cf"


def test_a_trainer_is_seen_when_it_starts_even_if_its_first_job_never_ends():
    """A trainer killed (or stuck) in the job it claimed as it started must be listed: the job
    says `running` by that worker, and the trainers view is where its silence shows."""
    store = InMemoryStore()
    uow = lambda: InMemoryUnitOfWork(store)  # noqa: E731
    seen: list[str] = []

    class JobThatNeverEnds:
        def recover(self) -> None:
            pass

        def run_one(self) -> None:
            with uow() as unit:
                seen.extend(t.worker for t in unit.trainers.recent(NOW - timedelta(days=1)))
            raise SystemExit  # the process dies in the middle of the job

    trainer = Trainer(
        lambda: Fit([]), JobThatNeverEnds, uow_factory=uow, worker="host:9", clock=lambda: NOW
    )
    with pytest.raises(SystemExit):
        trainer.run_once()
    assert seen == ["host:9"]


def test_a_fit_cycle_reads_as_what_was_published_what_failed_and_what_was_overtaken():
    assert summary([]) == "up to date: nothing to refit"
    assert summary(
        [
            Fitted("popularity", "v1", 0.1),
            Fitted("content", "v2", 0.1),
            Fitted(
                "item_cf", None, 0.2, "failed: could not be published: No space left", failed=True
            ),
            Fitted("two_tower", None, 3.0, "another trainer published v9", overtaken=True),
        ]
    ) == (
        "published popularity, content; failed: item_cf (could not be published: No space left); "
        "overtaken by another trainer: two_tower"
    )


def test_every_cycle_says_which_strategies_a_rollback_holds_and_how_to_release_them():
    held = Fitted("item_cf", None, 0.0, "held by a rollback to v1; ...", held="v1")
    release = "`recsys rollback STRATEGY --release` ends it"
    assert summary([held]) == (
        f"up to date: nothing to refit; held by a rollback: item_cf (restores v1); {release}"
    )
    assert summary([held, Fitted("popularity", "v2", 0.1)]) == (
        f"published popularity; held by a rollback: item_cf (restores v1); {release}"
    )


def test_a_fit_cycle_that_crashes_is_seen_as_failed_and_the_trainer_goes_on():
    import threading

    store = InMemoryStore()
    uow = lambda: InMemoryUnitOfWork(store)  # noqa: E731
    stop = threading.Event()

    seen: list[str] = []

    class Crashing:
        def execute(self, force: bool = False, progress=None, starting=lambda: None):  # type: ignore[no-untyped-def]
            with uow() as unit:  # the cycle before, as every host reads it
                seen.extend(t.last_cycle for t in unit.trainers.recent(NOW - timedelta(days=1)))
            if len(seen) > 1:
                stop.set()
            raise RuntimeError("CUDA out of memory")

    trainer = Trainer(
        Crashing, Jobs, fit_interval=0, poll_seconds=0, uow_factory=uow, worker="host:8"
    )
    trainer.run_forever(stop)
    assert seen[1] == "failed: RuntimeError: CUDA out of memory"  # and the trainer went on


def test_what_a_trainer_fitted_and_ran_is_recorded_with_its_beats_a_job_at_once():
    from application.ports import Job, LastFit

    store = InMemoryStore()
    uow = lambda: InMemoryUnitOfWork(store)  # noqa: E731
    fit = Fit(
        [
            [
                Fitted("popularity", "v1", 0.3, publish_seconds=0.1),
                Fitted("item_cf", None, 0.2, "failed: boom", failed=True),
            ]
        ]
    )

    class OneJob(Jobs):
        pending = [Job("j1", "reindex", "failed", NOW, error="OSError: disk full")]

        def run_one(self):  # type: ignore[no-untyped-def]
            return self.pending.pop() if self.pending else None

    trainer = Trainer(
        lambda: fit, Jobs, fit_interval=3600, uow_factory=uow, worker="h:1", clock=lambda: NOW
    )
    trainer.run_once()
    trainer.jobs = OneJob
    trainer.run_once()  # no fit due: the job's outcome is recorded all the same
    with uow() as unit:
        (listed,) = unit.trainers.recent(NOW - timedelta(days=1))
    assert listed.tally.fits == {("popularity", "published"): 1, ("item_cf", "failed"): 1}
    assert listed.tally.jobs == {("reindex", "failed"): 1}
    assert listed.tally.last_fits["popularity"] == LastFit("published", pytest.approx(0.2), 0.1)
    assert listed.tally.last_fits["item_cf"].outcome == "failed"
    assert listed.seen_at == NOW and listed.last_cycle.startswith("published popularity")


@pytest.mark.parametrize("how", ["told to stop", "interrupted mid-fit"])
def test_a_trainer_that_stops_says_so_and_no_longer_reads_as_at_rest(how):
    """A stopped trainer kept its last cycle ('up to date: nothing to refit') for 7 days: every
    restart of `serve --with-trainer` added a row that read as another trainer alive."""
    import threading

    store = InMemoryStore()
    uow = lambda: InMemoryUnitOfWork(store)  # noqa: E731
    stop = threading.Event()

    class Interrupted(BaseException):  # SIGTERM's handler raises one in the middle of a fit
        pass

    def fit() -> Fit:
        if how == "interrupted mid-fit":
            raise Interrupted
        stop.set()
        return Fit([[]])

    trainer = Trainer(
        fit, Jobs, fit_interval=0, uow_factory=uow, worker="host:7", clock=lambda: NOW
    )
    if how == "interrupted mid-fit":
        with pytest.raises(Interrupted):
            trainer.run_forever(stop)
    else:
        trainer.run_forever(stop)
    with uow() as unit:
        (listed,) = unit.trainers.recent(NOW - timedelta(days=1))
    assert listed.worker == "host:7" and listed.last_cycle == "stopped: no longer fitting"


def test_a_trainer_run_once_says_what_it_did_and_that_it_stopped():
    """`recsys trainer --once` (from cron, say) left a row that read as a trainer alive and at
    rest ('published popularity'), then, its seen_at ageing, as one killed or stuck."""
    store = InMemoryStore()
    uow = lambda: InMemoryUnitOfWork(store)  # noqa: E731
    trainer = Trainer(
        lambda: Fit([[Fitted("popularity", "v1", 0.1)]]),
        Jobs,
        fit_interval=0,
        uow_factory=uow,
        worker="host:7",
        clock=lambda: NOW,
    )
    trainer.run_once_then_stop()
    with uow() as unit:
        (listed,) = unit.trainers.recent(NOW - timedelta(days=1))
    assert listed.last_cycle == "published popularity; stopped: ran once"
    assert listed.tally.fits == {("popularity", "published"): 1}


def test_a_second_trainer_stands_by_while_one_fits_then_fits_when_the_turn_is_free():
    """Two trainers (one per host) each ran the whole search and training of the same data."""
    from adapters.in_memory import InMemoryFitTurn

    store = InMemoryStore()
    uow = lambda: InMemoryUnitOfWork(store)  # noqa: E731
    said: list[str] = []

    def trainer(worker: str, fit: Fit) -> Trainer:
        return Trainer(
            lambda: fit,
            Jobs,
            fit_interval=0,
            say=said.append,
            uow_factory=uow,
            worker=worker,
            clock=lambda: NOW,
            fit_turn=InMemoryFitTurn(store),
        )

    second_fit = Fit([[Fitted("item_cf", "v3", 0.1)]])
    second = trainer("b:2", second_fit)
    second.turn_wait = 0.5  # then it stands by: the first trainer's fit outlasts it

    class FitsWhileTheOtherTries(Fit):
        def execute(self, force: bool = False, progress=None, starting=lambda: None):  # type: ignore[no-untyped-def]
            assert second.run_once() == []  # the second trainer's cycle, in the middle of this fit
            return super().execute(force, progress, starting)

    first = trainer("a:1", FitsWhileTheOtherTries([[Fitted("item_cf", "v2", 0.1)]]))
    first.run_once()
    assert second_fit.cycles == [[Fitted("item_cf", "v3", 0.1)]], "the second never fitted"
    assert (
        "standing by: another trainer or train-two-tower is fitting; it tries again every 0s"
        in said
    )
    with uow() as unit:
        rows = {t.worker: t.last_cycle for t in unit.trainers.recent(NOW - timedelta(days=1))}
    assert rows == {
        "a:1": "published item_cf",
        "b:2": "standing by: another trainer or train-two-tower is fitting",
    }
    second.run_once()  # the turn is free again
    assert second_fit.cycles == []
    assert said[-1] == "the fitting turn is free: this trainer fits again"


def test_a_trainer_waits_a_moment_for_the_turn_another_holds_for_a_quick_cycle():
    """Another trainer's cycle with nothing to fit holds the turn for milliseconds: colliding
    with it every minute flipped this trainer's row to standing by."""
    import threading

    from adapters.in_memory import InMemoryFitTurn

    store = InMemoryStore()
    uow = lambda: InMemoryUnitOfWork(store)  # noqa: E731
    fit = Fit([[Fitted("popularity", "v1", 0.1)]])
    trainer = Trainer(
        lambda: fit, Jobs, fit_interval=0, uow_factory=uow, worker="b:2", clock=lambda: NOW
    )
    trainer.fit_turn = InMemoryFitTurn(store)
    store.fit_turn.acquire()  # the other trainer's quick cycle
    threading.Timer(0.3, store.fit_turn.release).start()
    trainer.run_once()
    assert fit.cycles == []
    with uow() as unit:
        (row,) = unit.trainers.recent(NOW - timedelta(days=1))
    assert row.last_cycle == "published popularity"


@pytest.mark.parametrize("when", ["between cycles", "mid-fit", "mid-job"])
def test_a_trainer_told_to_stop_says_what_it_dropped_only_when_something_was_running(when):
    """`recsys trainer` said "a fit in progress was dropped" at every SIGTERM, also at rest."""
    from application.use_cases.jobs import RunJobs, SubmitJob

    store = InMemoryStore()
    uow = lambda: InMemoryUnitOfWork(store)  # noqa: E731

    class Interrupted(BaseException):  # what SIGTERM's handler raises wherever the trainer is
        pass

    def reindex() -> dict[str, int]:
        raise Interrupted

    class Stopping(Fit):
        def execute(self, force=False, progress=None, starting=lambda: None):  # type: ignore[no-untyped-def]
            fitted = super().execute(force, progress, starting)
            if when == "mid-fit":
                raise Interrupted
            return fitted

    job = SubmitJob(uow, ("reindex",)).execute("reindex") if when == "mid-job" else None
    jobs = RunJobs(uow, {"reindex": reindex}, "host:7")
    fit = Stopping([[Fitted("popularity", "v1", 0.1)]])
    trainer = Trainer(lambda: fit, lambda: jobs, fit_interval=0, uow_factory=uow, worker="host:7")
    if when == "between cycles":
        trainer.run_once()  # and the SIGTERM comes while it waits for the next
    else:
        with pytest.raises(Interrupted):
            trainer.run_once()
    dropped = {"between cycles": "", "mid-fit": "a fit"}
    assert trainer.in_progress() == (f"job {job.job_id} (reindex)" if job else dropped[when])


def test_a_forced_trainer_that_stood_by_forces_its_first_cycle_of_its_own():
    """`recsys trainer --force` on a second host while another fitted never forced a refit: the
    cycle it stood by counted as its forced one."""
    import threading

    from adapters.in_memory import InMemoryFitTurn

    store = InMemoryStore()
    stop = threading.Event()
    forced: list[bool] = []

    class Recorded:
        def execute(self, force: bool = False, progress=None, starting=lambda: None):  # type: ignore[no-untyped-def]
            forced.append(force)
            stop.set()
            return []

    trainer = Trainer(
        Recorded, Jobs, fit_interval=0, poll_seconds=0, fit_turn=InMemoryFitTurn(store)
    )
    trainer.turn_wait = 0
    store.fit_turn.acquire()  # another trainer's long fit
    threading.Timer(0.3, store.fit_turn.release).start()
    trainer.run_forever(stop, force=True)
    assert forced == [True]


def test_a_fit_the_database_dropped_is_done_again_once_it_is_back_not_a_fit_interval_later():
    """An outage mid-fit left the row saying "fitting" with no turn held (read as a trainer
    killed) and the fit waiting for the next interval, an hour under hourly refits."""
    from application.ports import StorageUnavailable

    store = InMemoryStore()
    uow = lambda: InMemoryUnitOfWork(store)  # noqa: E731

    class DroppedOnce(Fit):
        def execute(self, force: bool = False, progress=None, starting=lambda: None):  # type: ignore[no-untyped-def]
            if not getattr(self, "dropped", False):
                self.dropped = True
                starting()
                raise StorageUnavailable("the connection was lost")
            return super().execute(force, progress, starting)

    fit = DroppedOnce([[Fitted("popularity", "v2", 0.1)], []])
    trainer = Trainer(lambda: fit, Jobs, fit_interval=3600, uow_factory=uow, worker="h:1")
    with pytest.raises(StorageUnavailable):
        trainer.run_once()
    assert [f.strategy for f in trainer.run_once()] == ["popularity"]  # at once, once back
    with uow() as unit:
        (beat,) = unit.trainers.recent(NOW - timedelta(days=1))
    assert beat.last_cycle == "published popularity"
    assert trainer.run_once() == []  # and then at the fit interval again
