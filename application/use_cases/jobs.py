"""SubmitJob and RunJobs: background work through the jobs table every host shares.

A web worker only submits; a trainer claims a job (exactly one trainer gets it), runs it while
sending heartbeats, and records the outcome. A job whose trainer died (no heartbeat for
`stale_after`, by the database's clock: the hosts' clocks disagree) is queued again, and failed
after `max_attempts`.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from application.ports import Job, UnitOfWork
from domain.errors import DomainError

log = logging.getLogger(__name__)


class JobRunning(DomainError):
    """A job of the kind is queued or running already: `job`, which any host can follow."""

    code = "job_running"

    def __init__(self, job: Job) -> None:
        super().__init__(f"a {job.kind} job is {job.status} already")
        self.job = job


def _now() -> datetime:
    return datetime.now(UTC)


class SubmitJob:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        kinds: tuple[str, ...],
        clock=_now,  # type: ignore[no-untyped-def]
    ) -> None:
        self.uow_factory = uow_factory
        self.kinds = kinds
        self.clock = clock

    def execute(self, kind: str) -> Job:
        if kind not in self.kinds:
            raise ValueError(f"no job kind {kind!r}; choose from {', '.join(self.kinds)}")
        job = Job(uuid.uuid4().hex, kind, "queued", self.clock())
        while True:
            with self.uow_factory() as uow:
                if uow.jobs.submit(job):
                    uow.commit()
                    return job
                active = [other for other in uow.jobs.active() if other.kind == kind]
            if active:
                raise JobRunning(active[0])
            # the job in the way ended between the refusal and the look at it: submit again


class RunJobs:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        handlers: Mapping[str, Callable[[], Mapping[str, Any]]],
        worker: str,
        stale_after: float = 120.0,
        heartbeat_every: float = 10.0,
        max_attempts: int = 3,
        clock=_now,  # type: ignore[no-untyped-def]
        on_finished: Callable[[Job], None] | None = None,
    ) -> None:
        self.uow_factory = uow_factory
        self.handlers = dict(handlers)
        #: told of every job that ends (metrics)
        self.on_finished = on_finished
        self.worker = worker
        self.stale_after = stale_after
        self.heartbeat_every = heartbeat_every
        self.max_attempts = max_attempts
        self.clock = clock
        #: the job being run (still set when a stop interrupted it)
        self.running: Job | None = None

    def recover(self) -> int:
        """Queue again (or fail) the jobs of trainers that stopped sending heartbeats; how many.
        A job whose trainer beat meanwhile, or that another trainer recovered first, is left."""
        # judged by the storage's clock, which stamped the heartbeats, not by this host's
        silent_for = timedelta(seconds=self.stale_after)
        recovered = 0
        with self.uow_factory() as uow:
            for job in uow.jobs.abandoned(silent_for):
                if job.attempts >= self.max_attempts:
                    error = f"its trainer ({job.worker}) stopped {job.attempts} times"
                    done = uow.jobs.finish(job, error=error, silent_for=silent_for)
                else:
                    done = uow.jobs.requeue(job, silent_for)
                if done:
                    recovered += 1
                    log.warning("job %s (%s) lost its trainer %s", job.job_id, job.kind, job.worker)
            uow.commit()
        return recovered

    def run_one(self) -> Job | None:
        """Claim the oldest queued job and run it: the job as this run ended it (its outcome
        not recorded if another trainer took the job over meanwhile); None when there was none."""
        with self.uow_factory() as uow:
            job = uow.jobs.claim(list(self.handlers), self.worker)
            uow.commit()
        if job is None:
            return None
        log.info("running job %s (%s)", job.job_id, job.kind)
        self.running = job
        done = threading.Event()
        beating = threading.Thread(target=self._beat, args=(job, done), daemon=True)
        beating.start()
        result: Mapping[str, Any] | None = None
        error: str | None = None
        try:
            try:
                result = self.handlers[job.kind]()
            finally:  # no heartbeat once the job has ended, however it ended
                done.set()
                beating.join()
        except Exception as failure:  # noqa: BLE001 - the job records any failure
            log.exception("job %s (%s) failed", job.job_id, job.kind)
            error = f"{type(failure).__name__}: {failure}"
        except BaseException:  # the trainer is leaving (SIGTERM): another one takes the job now
            self._give_back(job)
            raise
        self.running = None
        with self.uow_factory() as uow:
            recorded = uow.jobs.finish(job, result, error)
            uow.commit()
            finished = uow.jobs.get(job.job_id) if recorded else None
        if not recorded:
            log.warning(
                "job %s (%s) was taken over after this trainer's heartbeats were missed: "
                "its outcome here is not recorded over the new run's",
                job.job_id,
                job.kind,
            )
            # This run's outcome, not the job as read back: that is the other run's (running,
            # or queued again), which the trainer would report and count as this one's outcome.
            status = "failed" if error else "succeeded"
            return dataclasses.replace(
                job,
                status=status,
                finished_at=self.clock(),  # not stored: only this trainer reports it
                result=dict(result) if result else None,
                error=error,
            )
        if finished is not None and self.on_finished is not None:
            self.on_finished(finished)
        return finished

    def _give_back(self, job: Job) -> None:
        """Queue a job this trainer stops running, rather than leave it `running` until its
        heartbeats are missed (`stale_after`); the stale check still covers a failure here."""
        try:
            with self.uow_factory() as uow:
                uow.jobs.requeue(job)
                uow.commit()
            log.warning("job %s (%s) given back: its trainer is stopping", job.job_id, job.kind)
        except Exception:  # noqa: BLE001 - e.g. the database is down: leave it to the stale check
            log.exception("could not give back job %s", job.job_id)

    def _beat(self, job: Job, done: threading.Event) -> None:
        while not done.wait(self.heartbeat_every):
            try:
                with self.uow_factory() as uow:
                    ours = uow.jobs.heartbeat(job)
                    uow.commit()
            except Exception:  # noqa: BLE001 - a missed heartbeat is retried next time
                log.warning("could not record job %s's heartbeat", job.job_id)
                continue
            if not ours:  # queued again after missed heartbeats: another trainer may run it
                log.warning("job %s is no longer this trainer's: no more heartbeats", job.job_id)
                return
