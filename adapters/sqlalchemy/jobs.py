"""The job queue in SQL: submitted, claimed, heartbeaten and finished by trainers on any host."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from adapters.sqlalchemy.dialects import _insert, database_now, utc
from adapters.sqlalchemy.tables import jobs
from application.ports import Job, JobRepository


def _job(row: Any) -> Job:
    return Job(
        row.job_id,
        row.kind,
        row.status,
        utc(row.submitted_at),
        utc(row.started_at) if row.started_at else None,
        utc(row.finished_at) if row.finished_at else None,
        utc(row.heartbeat_at) if row.heartbeat_at else None,
        row.worker,
        row.attempts,
        row.result,
        row.error,
    )


class SqlJobRepository(JobRepository):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def submit(self, job: Job) -> bool:
        # uq_jobs_active_kind refuses a second queued or running job of a kind. Skipped, not
        # raised: a refusal is an operator clicking twice, not a database error (/metrics counts
        # every error the driver raises). Job ids are fresh, so that index is the only conflict.
        added = self.connection.execute(
            _insert(self.connection, jobs)
            .values(
                job_id=job.job_id,
                kind=job.kind,
                status="queued",
                submitted_at=utc(job.submitted_at),
            )
            .on_conflict_do_nothing()
            .returning(jobs.c.job_id)
        )
        return added.first() is not None

    def claim(self, kinds: Sequence[str], worker: str) -> Job | None:
        oldest = self.connection.execute(
            select(jobs.c.job_id)
            .where(jobs.c.status == "queued", jobs.c.kind.in_(list(kinds)))
            .order_by(jobs.c.submitted_at)
            .limit(1)
        ).scalar_one_or_none()
        if oldest is None:
            return None
        # Only the worker whose update finds the job still queued gets it.
        claimed = self.connection.execute(
            update(jobs)
            .where(jobs.c.job_id == oldest, jobs.c.status == "queued")
            .values(
                status="running",
                started_at=database_now(),
                heartbeat_at=database_now(),
                worker=worker,
                attempts=jobs.c.attempts + 1,
            )
        ).rowcount
        return self.get(oldest) if claimed == 1 else None

    def heartbeat(self, run: Job) -> bool:
        return self._update_run(run, None, heartbeat_at=database_now())

    def finish(
        self,
        run: Job,
        result: Mapping[str, Any] | None = None,
        error: str | None = None,
        silent_for: timedelta | None = None,
    ) -> bool:
        return self._update_run(
            run,
            silent_for,
            status="failed" if error else "succeeded",
            finished_at=database_now(),
            result=dict(result) if result else None,
            error=error,
        )

    def _update_run(self, run: Job, silent_for: timedelta | None, **values: Any) -> bool:
        """`values` written if the job is still `run`'s (and silent for `silent_for`): a trainer
        taken for dead must not overwrite the job another one claimed since."""
        still = [
            jobs.c.job_id == run.job_id,
            jobs.c.status == "running",
            jobs.c.worker == run.worker,
            jobs.c.attempts == run.attempts,
        ]
        if silent_for is not None:
            still.append(jobs.c.heartbeat_at < database_now(silent_for))
        return self.connection.execute(update(jobs).where(*still).values(**values)).rowcount == 1

    def get(self, job_id: str) -> Job | None:
        row = self.connection.execute(select(jobs).where(jobs.c.job_id == job_id)).first()
        return _job(row) if row else None

    def abandoned(self, silent_for: timedelta) -> list[Job]:
        query = select(jobs).where(
            jobs.c.status == "running", jobs.c.heartbeat_at < database_now(silent_for)
        )
        return [_job(r) for r in self.connection.execute(query)]

    def requeue(self, run: Job, silent_for: timedelta | None = None) -> bool:
        return self._update_run(
            run, silent_for, status="queued", started_at=None, heartbeat_at=None, worker=None
        )

    def active(self) -> list[Job]:
        # the partial index uq_jobs_active_kind holds exactly these rows
        query = select(jobs).where(jobs.c.status.in_(("queued", "running")))
        return [_job(r) for r in self.connection.execute(query)]
