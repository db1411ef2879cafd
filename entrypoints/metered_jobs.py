"""A JobStore that counts every finished job by kind and outcome (recsys_jobs_total)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from application.ports import JobStore
from entrypoints import metrics


class MeteredJobStore(JobStore):
    def __init__(self, inner: JobStore) -> None:
        self.inner = inner

    def begin(self, kind: str) -> str | None:
        return self.inner.begin(kind)

    def finish(
        self, job_id: str, result: Mapping[str, Any] | None = None, error: str | None = None
    ) -> None:
        self.inner.finish(job_id, result, error)
        found = self.inner.get(job_id) or {}
        metrics.job_finished(str(found.get("kind", "unknown")), "failed" if error else "succeeded")

    def get(self, job_id: str) -> dict[str, Any] | None:
        return self.inner.get(job_id)
