"""Artifacts on the filesystem: <root>/<name>/versions/<version>/ plus a `current` pointer file.

A version directory is staged under a temporary name and renamed into place; the pointer is
replaced with os.replace. Readers therefore see either the old or the new version, never half.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from application.ports import Artifact, ArtifactStore, CorruptArtifact

MANIFEST = "manifest.json"


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


class FilesystemArtifactStore(ArtifactStore):
    def __init__(self, root: str | os.PathLike[str], keep: int = 3) -> None:
        self.root = Path(root)
        # At least two: a reader that has just resolved `current` must still find it after a publish.
        self.keep = max(2, keep)

    def _versions_dir(self, name: str) -> Path:
        return self.root / name / "versions"

    def publish(self, name: str, files: Mapping[str, bytes], manifest: Mapping[str, Any]) -> str:
        now = datetime.now(UTC)
        version = f"{now:%Y%m%dT%H%M%S}{now.microsecond:06d}Z-{uuid.uuid4().hex[:6]}"
        versions = self._versions_dir(name)
        versions.mkdir(parents=True, exist_ok=True)
        staging = self.root / name / f".staging-{version}"
        staging.mkdir()
        described = {
            **manifest,
            "name": name,
            "version": version,
            "created_at": now.isoformat(),
            "files": {
                filename: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
                for filename, data in files.items()
            },
        }
        for filename, data in files.items():
            _write(staging / filename, data)
        _write(staging / MANIFEST, json.dumps(described, indent=2, sort_keys=True).encode())
        staging.rename(versions / version)
        pointer = self.root / name / f".current-{version}"
        _write(pointer, version.encode())
        os.replace(pointer, self.root / name / "current")
        self._prune(name, version)
        return version

    def _prune(self, name: str, current: str) -> None:
        for old in self.versions(name)[self.keep :]:
            if old != current:
                shutil.rmtree(self._versions_dir(name) / old, ignore_errors=True)

    def current_version(self, name: str) -> str | None:
        try:
            return (self.root / name / "current").read_text().strip() or None
        except FileNotFoundError:
            return None

    def versions(self, name: str) -> list[str]:
        folder = self._versions_dir(name)
        if not folder.is_dir():
            return []
        return sorted((p.name for p in folder.iterdir() if p.is_dir()), reverse=True)

    def load(self, name: str, version: str) -> Artifact:
        folder = self._versions_dir(name) / version
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except (OSError, ValueError) as error:
            raise CorruptArtifact(f"{name} {version}: unreadable manifest ({error})") from None
        files = {}
        for filename, expected in manifest.get("files", {}).items():
            try:
                data = (folder / filename).read_bytes()
            except OSError:
                raise CorruptArtifact(f"{name} {version}: {filename} is missing") from None
            if hashlib.sha256(data).hexdigest() != expected.get("sha256"):
                raise CorruptArtifact(f"{name} {version}: {filename} does not match its checksum")
            files[filename] = data
        return Artifact(name, version, manifest, files)
