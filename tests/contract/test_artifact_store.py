"""The filesystem artifact store: atomic versions, checksums, pruning."""

from __future__ import annotations

import pytest

from adapters.fs_artifacts import FilesystemArtifactStore
from application.ports import CorruptArtifact


@pytest.fixture
def store(tmp_path):  # type: ignore[no-untyped-def]
    return FilesystemArtifactStore(tmp_path, keep=2)


def test_a_published_version_becomes_current_and_reads_back(store):
    assert store.current_version("model") is None
    version = store.publish(
        "model", {"weights.bin": b"\x00\x01", "ids.json": b"[1]"}, {"metrics": {"recall": 0.3}}
    )
    assert store.current_version("model") == version
    artifact = store.load("model", version)
    assert artifact.files == {"weights.bin": b"\x00\x01", "ids.json": b"[1]"}
    assert artifact.manifest["metrics"] == {"recall": 0.3}
    assert artifact.manifest["files"]["weights.bin"]["bytes"] == 2


def test_only_the_newest_versions_are_kept(store):
    versions = [store.publish("model", {"f": bytes([i])}, {}) for i in range(4)]
    assert store.versions("model") == list(reversed(versions))[:2]
    assert store.current_version("model") == versions[-1]


def test_a_tampered_file_is_rejected(store, tmp_path):
    version = store.publish("model", {"f": b"good"}, {})
    (tmp_path / "model" / "versions" / version / "f").write_bytes(b"evil")
    with pytest.raises(CorruptArtifact, match="checksum"):
        store.load("model", version)


def test_a_missing_file_is_rejected(store, tmp_path):
    version = store.publish("model", {"f": b"good"}, {})
    (tmp_path / "model" / "versions" / version / "f").unlink()
    with pytest.raises(CorruptArtifact, match="missing"):
        store.load("model", version)
