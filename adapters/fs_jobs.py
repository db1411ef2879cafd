"""Jobs as JSON files beside the artifacts; a lock file per kind makes "one at a time" hold across
worker processes."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from application.ports import JobStore

STALE_SECONDS = 3600


class FilesystemJobStore(JobStore):
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root) / "jobs"

    def _lock(self, kind: str) -> Path:
        return self.root / f"{kind}.lock"

    def begin(self, kind: str) -> str | None:
        self.root.mkdir(parents=True, exist_ok=True)
        lock = self._lock(kind)
        if lock.exists() and time.time() - lock.stat().st_mtime > STALE_SECONDS:
            lock.unlink(missing_ok=True)  # a worker died mid-job long ago
        job_id = uuid.uuid4().hex
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return None
        with os.fdopen(descriptor, "w") as handle:
            handle.write(job_id)
        self._save(
            {
                "job_id": job_id,
                "kind": kind,
                "status": "running",
                "started_at": _now(),
                "finished_at": None,
                "result": None,
                "error": None,
            }
        )
        return job_id

    def finish(
        self, job_id: str, result: Mapping[str, Any] | None = None, error: str | None = None
    ) -> None:
        job = self.get(job_id)
        if job is None:
            return
        job.update(
            status="failed" if error else "succeeded",
            finished_at=_now(),
            result=dict(result) if result else None,
            error=error,
        )
        self._save(job)
        lock = self._lock(job["kind"])
        try:
            if lock.read_text() == job_id:  # a lock broken as stale may belong to a newer job
                lock.unlink()
        except FileNotFoundError:
            pass

    def get(self, job_id: str) -> dict[str, Any] | None:
        if not job_id.isalnum():
            return None
        try:
            return json.loads((self.root / f"{job_id}.json").read_text())  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return None

    def _save(self, job: dict[str, Any]) -> None:
        staging = self.root / f".{job['job_id']}.tmp"
        staging.write_text(json.dumps(job))
        os.replace(staging, self.root / f"{job['job_id']}.json")


def _now() -> str:
    return datetime.now(UTC).isoformat()
