"""StartReindex: run RebuildIndex in the background as a job that any worker can report on."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from application.ports import JobStore
from application.use_cases.rebuild_index import RebuildIndex

log = logging.getLogger(__name__)
KIND = "reindex"


class ReindexRunning(Exception):
    """A reindex job is running already."""


class StartReindex:
    def __init__(self, jobs: JobStore, rebuild: Callable[[], RebuildIndex]) -> None:
        self.jobs = jobs
        self.rebuild = rebuild

    def execute(self, wait: bool = False) -> str:
        job_id = self.jobs.begin(KIND)
        if job_id is None:
            raise ReindexRunning("a reindex is running already")
        worker = threading.Thread(
            target=self._run, args=(job_id,), name=f"reindex-{job_id}", daemon=True
        )
        worker.start()
        if wait:
            worker.join()
        return job_id

    def _run(self, job_id: str) -> None:
        try:
            result = self.rebuild().execute(reencode=True)
        except Exception as error:  # noqa: BLE001 - the job reports any failure
            log.exception("reindex job %s failed", job_id)
            self.jobs.finish(job_id, error=f"{type(error).__name__}: {error}")
            return
        self.jobs.finish(
            job_id,
            {"version": result.version, "previous": result.previous, "indexed": result.indexed},
        )
