"""The jobs every host shares, on each storage backend: queued once, claimed once, never lost."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from adapters.in_memory import InMemoryUnitOfWork
from adapters.sqlalchemy.tables import jobs
from application.ports import Job
from application.use_cases.jobs import JobRunning, RunJobs, SubmitJob
from tests.conftest import NOW


def submit(uow_factory, kind="reindex"):  # type: ignore[no-untyped-def]
    return SubmitJob(uow_factory, ("reindex", "fit"), clock=lambda: NOW).execute(kind)


def runner(uow_factory, worker, handler=lambda: {"done": 1}, clock=lambda: NOW):  # type: ignore[no-untyped-def]
    return RunJobs(
        uow_factory, {"reindex": handler, "fit": handler}, worker, stale_after=60, clock=clock
    )


def fall_silent(uow_factory, job_id, silent_for=timedelta(minutes=5)):  # type: ignore[no-untyped-def]
    """As if the job's trainer had sent no heartbeat for `silent_for` by the storage's clock,
    which no test can wind on: its latest heartbeat moved back by that much."""
    with uow_factory() as uow:
        earlier = uow.jobs.get(job_id).heartbeat_at - silent_for
        if isinstance(uow, InMemoryUnitOfWork):
            job = uow.working.jobs[job_id]
            uow.working.jobs[job_id] = dataclasses.replace(job, heartbeat_at=earlier)
        else:
            moved = update(jobs).where(jobs.c.job_id == job_id).values(heartbeat_at=earlier)
            uow.connection.execute(moved)
        uow.commit()


def skewed(by: timedelta):  # type: ignore[no-untyped-def]
    """A host's clock, `by` off the right time."""
    return lambda: datetime.now(UTC) + by


def test_one_job_of_a_kind_at_a_time_and_its_outcome_is_kept(uow_factory):
    job = submit(uow_factory)
    with pytest.raises(JobRunning):
        submit(uow_factory)
    assert submit(uow_factory, "fit").kind == "fit"  # another kind may queue beside it
    done = runner(uow_factory, "host-a:1").run_one()
    assert done is not None and done.job_id == job.job_id
    assert (done.status, done.worker, done.attempts, done.result) == (
        "succeeded",
        "host-a:1",
        1,
        {"done": 1},
    )
    assert submit(uow_factory).status == "queued"  # the kind is free again


def test_a_failing_job_records_why(uow_factory):
    job = submit(uow_factory)

    def broken():  # type: ignore[no-untyped-def]
        raise RuntimeError("no model yet")

    runner(uow_factory, "a", broken).run_one()
    with uow_factory() as uow:
        failed = uow.jobs.get(job.job_id)
    assert failed.status == "failed" and failed.error == "RuntimeError: no model yet"


def test_two_workers_claiming_at_once_run_a_job_once(uow_factory):
    submit(uow_factory)
    ran: list[str] = []

    def work(name: str) -> None:
        runner(uow_factory, name, lambda: ran.append(name) or {}).run_one()

    workers = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert len(ran) == 1


def test_a_job_whose_trainer_died_is_run_again_by_another(uow_factory):
    job = submit(uow_factory)
    with uow_factory() as uow:  # a trainer claims it, then is killed: no heartbeat, no outcome
        uow.jobs.claim(["reindex"], "dead:1")
        uow.commit()
    with uow_factory() as uow:
        assert uow.jobs.get(job.job_id).status == "running"
    fall_silent(uow_factory, job.job_id)
    survivor = runner(uow_factory, "alive:2")
    assert survivor.recover() == 1
    done = survivor.run_one()
    assert done is not None and (done.job_id, done.status, done.worker, done.attempts) == (
        job.job_id,
        "succeeded",
        "alive:2",
        2,
    )


HOURS = timedelta(hours=3)


@pytest.mark.parametrize(
    ("trainer_off", "watcher_off"),
    [(-HOURS, timedelta(0)), (timedelta(0), HOURS)],
    ids=["trainer behind", "watcher ahead"],
)
def test_a_trainer_whose_clock_is_hours_off_another_hosts_keeps_the_job_it_runs(
    uow_factory, trainer_off, watcher_off
):
    """Heartbeats were stamped by the trainer's clock and judged silent by the watcher's: a
    trainer whose clock was behind the watcher's by more than the silence limit lost each job it
    ran to the next recovery, and another trainer ran it again beside it."""
    job = submit(uow_factory)
    recovered: list[int] = []

    def work():  # type: ignore[no-untyped-def]
        # while it runs, another host looks for the jobs of dead trainers
        recovered.append(runner(uow_factory, "watcher", clock=skewed(watcher_off)).recover())
        return {"done": 1}

    done = runner(uow_factory, "skewed:1", work, clock=skewed(trainer_off)).run_one()
    assert recovered == [0]
    with uow_factory() as uow:
        stored = uow.jobs.get(job.job_id)
    assert done is not None and (stored.status, stored.worker, stored.result) == (
        "succeeded",
        "skewed:1",
        {"done": 1},
    )


@pytest.mark.parametrize(
    ("trainer_off", "watcher_off"),
    [(HOURS, timedelta(0)), (timedelta(0), -HOURS)],
    ids=["trainer ahead", "watcher behind"],
)
def test_a_dead_trainer_whose_clock_was_hours_off_another_hosts_loses_its_job(
    uow_factory, trainer_off, watcher_off
):
    """A trainer whose clock was ahead of the watcher's by more than the silence limit stamped
    heartbeats the watcher took for recent until its clock caught up: its job, were it to die,
    stayed `running` (and no other of its kind could be queued) for hours."""
    job = submit(uow_factory)
    recovered: list[int] = []

    def dies():  # type: ignore[no-untyped-def]
        # it stops (no heartbeat for minutes, as if killed) and another host notices
        fall_silent(uow_factory, job.job_id)
        recovered.append(runner(uow_factory, "watcher", clock=skewed(watcher_off)).recover())
        return {"late": 1}

    runner(uow_factory, "skewed:1", dies, clock=skewed(trainer_off)).run_one()
    assert recovered == [1]
    with uow_factory() as uow:
        stored = uow.jobs.get(job.job_id)
    assert (stored.status, stored.worker, stored.result) == ("queued", None, None)


def test_a_trainer_taken_for_dead_does_not_record_over_the_run_that_took_its_job(uow_factory):
    """A trainer stalled past the stale limit (a long pause, a cut network) whose job another
    trainer took over: its late outcome and heartbeats overwrote the new run's job, which then
    read as finished while the other trainer was still running it."""
    job = submit(uow_factory)
    with uow_factory() as uow:
        stalled = uow.jobs.claim(["reindex"], "stalled:1")
        uow.commit()
    fall_silent(uow_factory, job.job_id)
    assert runner(uow_factory, "watcher").recover() == 1
    with uow_factory() as uow:
        taken = uow.jobs.claim(["reindex"], "alive:2")
        uow.commit()
    with uow_factory() as uow:  # the stalled trainer wakes up
        assert not uow.jobs.heartbeat(stalled)
        assert not uow.jobs.finish(stalled, {"stale": 1})
        assert not uow.jobs.requeue(stalled)
        uow.commit()
    with uow_factory() as uow:
        current = uow.jobs.get(job.job_id)
        assert (current.status, current.worker, current.attempts) == ("running", "alive:2", 2)
        assert uow.jobs.finish(taken, {"done": 2})
        uow.commit()
    with uow_factory() as uow:
        assert uow.jobs.get(job.job_id).result == {"done": 2}


def test_a_trainer_taken_for_dead_reports_its_own_run_not_the_one_that_took_its_job(
    uow_factory,
):
    """Its outcome is not recorded; what it reports (the trainer's log line and its tally of
    jobs by outcome) is its own run's, not the other trainer's job read back as 'running'."""
    job = submit(uow_factory)

    def stalled():  # type: ignore[no-untyped-def]
        # while this trainer is stalled, another takes it for dead and takes the job over
        fall_silent(uow_factory, job.job_id)
        assert runner(uow_factory, "watcher").recover() == 1
        with uow_factory() as uow:
            uow.jobs.claim(["reindex"], "alive:2")
            uow.commit()
        return {"stale": 1}

    told: list[Job] = []
    done = RunJobs(
        uow_factory, {"reindex": stalled}, "stalled:1", clock=lambda: NOW, on_finished=told.append
    ).run_one()
    assert done is not None and (done.status, done.worker, done.attempts, done.result) == (
        "succeeded",
        "stalled:1",
        1,
        {"stale": 1},
    )
    assert told == []  # not recorded: metrics are told of the job when its own run ends
    with uow_factory() as uow:
        current = uow.jobs.get(job.job_id)
    assert (current.status, current.worker) == ("running", "alive:2")


def test_a_recovery_leaves_a_job_whose_trainer_beat_since_it_was_found_silent(uow_factory):
    job = submit(uow_factory)
    with uow_factory() as uow:
        running = uow.jobs.claim(["reindex"], "slow:1")
        uow.commit()
    fall_silent(uow_factory, job.job_id)
    silent_for = timedelta(minutes=1)
    with uow_factory() as uow:
        [found] = uow.jobs.abandoned(silent_for)
    with uow_factory() as uow:  # its heartbeat lands between the watcher's read and its write
        assert uow.jobs.heartbeat(running)
        uow.commit()
    with uow_factory() as uow:
        assert not uow.jobs.requeue(found, silent_for)
        assert not uow.jobs.finish(found, error="stopped", silent_for=silent_for)
        uow.commit()
        assert uow.jobs.get(found.job_id).status == "running"


def test_a_job_is_failed_after_its_trainers_died_too_often(uow_factory):
    job = submit(uow_factory)
    for attempt in range(3):
        with uow_factory() as uow:
            assert uow.jobs.claim(["reindex"], f"dead:{attempt}") is not None
            uow.commit()
        fall_silent(uow_factory, job.job_id)
        runner(uow_factory, "watcher").recover()
    with uow_factory() as uow:
        failed = uow.jobs.get(job.job_id)
    assert failed.status == "failed" and "stopped 3 times" in failed.error


def test_a_job_whose_trainer_is_stopped_while_running_it_is_queued_again_at_once(uow_factory):
    job = submit(uow_factory)

    class Stopped(BaseException):
        pass

    def interrupted():  # type: ignore[no-untyped-def]
        raise Stopped  # SIGTERM arrives mid-job: `recsys trainer` leaves at once

    with pytest.raises(Stopped):
        runner(uow_factory, "host-a:1", interrupted).run_one()
    with uow_factory() as uow:
        given_back = uow.jobs.get(job.job_id)
    assert (given_back.status, given_back.worker) == ("queued", None)
    done = runner(uow_factory, "host-b:2").run_one()  # another trainer, without waiting
    assert done is not None and (done.status, done.worker) == ("succeeded", "host-b:2")


def test_an_unknown_job_is_none(uow_factory):
    with uow_factory() as uow:
        assert uow.jobs.get("nope") is None
        assert uow.jobs.claim(["reindex"], "w") is None
    assert isinstance(submit(uow_factory), Job)


@pytest.mark.parametrize("ending", ["succeeds", "fails", "is stopped"])
def test_a_trainer_sends_heartbeats_while_a_job_runs_and_none_once_it_has_ended(
    uow_factory, ending
):
    import time

    job = submit(uow_factory)

    def beaten():  # type: ignore[no-untyped-def]
        with uow_factory() as uow:
            return uow.jobs.get(job.job_id).heartbeat_at

    class Stopped(BaseException):
        pass

    seen = []

    def work():  # type: ignore[no-untyped-def]
        for _ in range(500):  # until the first heartbeat has landed (at most 5 s)
            if beaten() is not None:
                seen.append(beaten())
                break
            time.sleep(0.01)
        if ending == "fails":
            raise RuntimeError("broken")
        if ending == "is stopped":
            raise Stopped
        return {"done": 1}

    # every heartbeat a later time: the storage's clock moves on between them
    running = RunJobs(uow_factory, {"reindex": work}, "host-a:1", heartbeat_every=0.01)
    try:
        running.run_one()
    except Stopped:
        pass
    last = beaten()  # a job given back is queued afresh, without a heartbeat
    time.sleep(0.1)  # ten heartbeat intervals
    assert seen and beaten() == last


def test_the_active_jobs_are_the_queued_and_running_ones(uow_factory):
    submit(uow_factory, "reindex")
    submit(uow_factory, "fit")
    RunJobs(uow_factory, {"reindex": lambda: {}}, "w:1", clock=lambda: NOW).run_one()
    with uow_factory() as uow:
        assert [(j.kind, j.status) for j in uow.jobs.active()] == [("fit", "queued")]
