"""Artifacts on the filesystem: <root>/<name>/versions/<version>/ plus a `current` pointer file.

A version directory is staged under a temporary name and renamed into place; the pointer is
replaced with os.replace. Readers therefore see either the old or the new version, never half.
Publishes of one name hold an exclusive lock on <root>/<name>/.publish.lock (every process on
every host mounting the directory), and a large file identical to one in the current version
is hard-linked rather than written again (a reindex rewrites only the index).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import stat
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from application.manifests import described, pruned, version_name
from application.ports import ANY, Artifact, ArtifactStore, CorruptArtifact, StaleBase

MANIFEST = "manifest.json"
#: Files at least this large are hard-linked from the version before when unchanged. Linked
#: versions share one inode, so a file rewritten in place breaks every version holding it, the
#: fallbacks included; small files (ids, lists, manifests: what a person edits) are therefore
#: written anew, which costs little. Large ones (model weights, embeddings, the index: most of
#: a version) stay linked: copying them would multiply the disk a reindex takes by the versions
#: kept. A damaged linked file is found by the trainer (verify) and written anew in the version
#: that replaces it.
LINK_ABOVE = 1 << 20
#: A file modified this recently is read again at the next verify: a write within the clock's
#: granularity (or an NFS server's clock skew) of the last one can leave the same mtime (git's
#: "racy clean" entries).
SETTLE_NS = 10 * 10**9


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


class FilesystemArtifactStore(ArtifactStore):
    def __init__(self, root: str | os.PathLike[str], keep: int = 3) -> None:
        self.root = Path(root)
        if keep < 2:
            # a reader that has just resolved `current` must still find it after a publish
            raise ValueError(f"at least 2 versions are kept, not {keep}")
        self.keep = keep
        #: name -> (version, filename -> what a stat said when the file was last found whole)
        self._verified: dict[str, tuple[str, dict[str, tuple[int, int, int]]]] = {}

    def check_writable(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        probe = self.root / f".writable-{uuid.uuid4().hex[:8]}"
        _write(probe, b"")
        probe.unlink()

    def absent(self) -> str | None:
        return None if self.root.is_dir() else str(self.root)

    def location(self) -> str:
        return str(self.root)

    def _versions_dir(self, name: str) -> Path:
        return self.root / name / "versions"

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        (self.root / name).mkdir(parents=True, exist_ok=True)
        with open(self.root / name / ".publish.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def publish(
        self,
        name: str,
        files: Mapping[str, bytes],
        manifest: Mapping[str, Any],
        based_on: str | None = ANY,
    ) -> str:
        with self._locked(name):
            current = self.current_version(name)
            if based_on != ANY and based_on != current:
                raise StaleBase(
                    f"{name} {current} was published while this work was based on "
                    f"{based_on or 'no version'}; nothing was replaced"
                )
            self._clear_leftovers(name)
            return self._publish(name, files, manifest, current)

    def _clear_leftovers(self, name: str) -> None:
        """What a publish killed outright (SIGKILL, a power cut) left staged, or put in place
        without making it current: under the lock no other publish is under way, so nothing
        staged belongs to anyone."""
        for leftover in (self.root / name).glob(".staging-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        current = self.current_version(name)
        for leftover in (self.root / name).glob(".current-*"):
            # its version, if in place, never became current: a whole model no one served
            # would be kept, and restored by a rollback, in place of the one that answered
            never = leftover.name.removeprefix(".current-")
            if never != current and never in self.versions(name):
                shutil.rmtree(self._versions_dir(name) / never, ignore_errors=True)
            leftover.unlink(missing_ok=True)
        pointer = self.root / name / "current"
        if pointer.is_dir() and not pointer.is_symlink():  # no pointer could replace it
            shutil.rmtree(pointer, ignore_errors=True)

    def _publish(
        self,
        name: str,
        files: Mapping[str, bytes],
        manifest: Mapping[str, Any],
        current: str | None,
    ) -> str:
        now = datetime.now(UTC)
        version = version_name(now, self.versions(name))
        versions = self._versions_dir(name)
        versions.mkdir(parents=True, exist_ok=True)
        staging = self.root / name / f".staging-{version}"
        staging.mkdir()
        kept = described(manifest, name, version, now, files)
        sums = {filename: kept["files"][filename]["sha256"] for filename in files}
        previous = self._manifest(name, current) if current else {}
        pointer = self.root / name / f".current-{version}"
        try:
            for filename, data in files.items():
                same = previous.get("files", {}).get(filename, {}).get("sha256") == sums[filename]
                same = same and len(data) >= LINK_ABOVE
                source = versions / str(current) / filename
                try:
                    # what is on disk, not what the manifest says: a damaged file linked into
                    # the new version would break it too, and every refit after it
                    if same and _holds(source, sums[filename]):
                        os.link(source, staging / filename)
                        continue
                except OSError:
                    pass  # pruned meanwhile, or a filesystem without hard links: write it
                _write(staging / filename, data)
            _write(staging / MANIFEST, json.dumps(kept, indent=2, sort_keys=True).encode())
            # the pointer first: a publish killed once its version is in place leaves it behind,
            # which tells the next publish that the version never became current
            _write(pointer, version.encode())
            staging.rename(versions / version)
        except BaseException:
            # A full disk (or a stopped trainer): what was staged would hold the space forever.
            shutil.rmtree(staging, ignore_errors=True)
            pointer.unlink(missing_ok=True)
            if (versions / version).is_dir() and self.current_version(name) != version:
                shutil.rmtree(versions / version, ignore_errors=True)
            raise
        os.replace(pointer, self.root / name / "current")
        self._prune(name, version, replaced=current)
        return version

    def _manifest(self, name: str, version: str) -> dict[str, Any]:
        try:
            loaded = _json(self._versions_dir(name) / version / MANIFEST)
        except (OSError, ValueError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def _prune(self, name: str, current: str, replaced: str | None) -> None:
        """Removes what application.manifests.pruned says a publish of `current` removes."""

        def manifest_of(version: str) -> dict[str, Any] | None:
            try:
                return self.load(name, version, only=()).manifest
            except CorruptArtifact:
                return None

        for old in pruned(self.versions(name), manifest_of, current, replaced, self.keep):
            shutil.rmtree(self._versions_dir(name) / old, ignore_errors=True)

    def discard(self, name: str, version: str) -> None:
        with self._locked(name):  # a publish meanwhile may make it current or prune it
            if version == self.current_version(name):
                raise ValueError(f"{name} {version} is current: it is replaced, not discarded")
            if version in self.versions(name):  # a name listed here, never a path of its own
                shutil.rmtree(self._versions_dir(name) / version)

    def current_version(self, name: str) -> str | None:
        """None without a readable pointer: missing, or damaged (a directory, bytes that are not
        text), so workers fall back as with no version and the trainer publishes one."""
        try:
            version = _read(self.root / name / "current").decode().strip()
        except (OSError, UnicodeDecodeError):
            return None
        return version if _plain(version) else None  # not a path out of versions/

    def current_age(self, name: str) -> timedelta | None:
        # Both times are the filesystem's (an NFS server's for every host): a file's mtime is
        # set by it, where each trainer's clock may be minutes from the publishing host's.
        probe = self.root / f".age-{uuid.uuid4().hex[:8]}"
        try:
            published = (self.root / name / "current").stat().st_mtime_ns
            probe.touch()
            now = probe.stat().st_mtime_ns
        except OSError:
            return None
        finally:
            probe.unlink(missing_ok=True)
        return timedelta(microseconds=(now - published) // 1000)

    def versions(self, name: str) -> list[str]:
        folder = self._versions_dir(name)
        if not folder.is_dir():
            return []
        return sorted((p.name for p in folder.iterdir() if p.is_dir()), reverse=True)

    def load(self, name: str, version: str, only: Iterable[str] | None = None) -> Artifact:
        if not _plain(version):  # "../..", an absolute path: a folder outside the store
            raise CorruptArtifact(f"{name}: {version!r} is no version name")
        folder = self._versions_dir(name) / version
        try:
            manifest = _json(folder / MANIFEST)
        except (OSError, ValueError) as error:
            raise CorruptArtifact(f"{name} {version}: unreadable manifest ({error})") from None
        if not _well_formed(manifest):
            raise CorruptArtifact(f"{name} {version}: the manifest does not list files and sums")
        wanted = None if only is None else set(only)
        files = {}
        for filename, expected in manifest.get("files", {}).items():
            if wanted is not None and filename not in wanted:
                _check_size(folder, filename, expected, f"{name} {version}")
                continue
            try:
                data = _read(folder / filename)
            except _NotRegular:
                raise CorruptArtifact(f"{name} {version}: {filename} is no regular file") from None
            except OSError:
                raise CorruptArtifact(f"{name} {version}: {filename} is missing") from None
            if hashlib.sha256(data).hexdigest() != expected.get("sha256"):
                raise CorruptArtifact(f"{name} {version}: {filename} does not match its checksum")
            files[filename] = data
        return Artifact(name, version, manifest, files)

    def verify(self, name: str, version: str) -> Artifact:
        artifact = self.load(name, version, only=())
        folder = self._versions_dir(name) / version
        last_version, last = self._verified.get(name, ("", {}))
        found = last if last_version == version else {}
        whole = {}
        settled = time.time_ns() - SETTLE_NS
        for filename, expected in artifact.manifest["files"].items():
            try:
                # stat before reading: a change made while hashing shows at the next verify
                seen = _stat(folder / filename)
                if found.get(filename) != seen and not _holds(
                    folder / filename, expected.get("sha256")
                ):
                    raise CorruptArtifact(
                        f"{name} {version}: {filename} does not match its checksum"
                    )
            except _NotRegular:
                raise CorruptArtifact(f"{name} {version}: {filename} is no regular file") from None
            except OSError:
                raise CorruptArtifact(f"{name} {version}: {filename} is missing") from None
            if seen[2] < settled:
                whole[filename] = seen
        self._verified[name] = (version, whole)
        return artifact


def _stat(path: Path) -> tuple[int, int, int]:
    """What changes when a file is written in place (mtime in ns), truncated or replaced."""
    stat = path.stat()
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def _holds(path: Path, sha256: str | None) -> bool:
    """Whether the file's bytes have this digest (read in blocks: files run to gigabytes)."""
    digest = hashlib.sha256()
    with _open_regular(path) as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest() == sha256


def _check_size(folder: Path, filename: str, expected: Mapping[str, Any], what: str) -> None:
    """A file not read is still there at its published size: a truncated or removed file is
    found by a stat, without reading the file (a trainer checks every strategy each cycle)."""
    try:
        size = (folder / filename).stat().st_size
    except OSError:
        raise CorruptArtifact(f"{what}: {filename} is missing") from None
    if "bytes" in expected and size != expected["bytes"]:
        raise CorruptArtifact(
            f"{what}: {filename} is {size} bytes, {expected['bytes']} were published"
        )


def _well_formed(manifest: Any) -> bool:
    """Files listed with their sums, each a name inside the version's folder (a "../.." or an
    absolute path would have a load read, and its message tell of, any file the process may)."""
    files = manifest.get("files", {}) if isinstance(manifest, dict) else None
    return isinstance(files, dict) and all(
        _plain(k) and isinstance(v, dict) for k, v in files.items()
    )


def _plain(name: str) -> bool:
    """A name of one entry of its folder: no path that leads out of it."""
    return name not in ("", ".", "..") and not any(c in name for c in "/\\\0")


class _NotRegular(OSError):
    """A device, FIFO or folder where a file was published."""


def _open_regular(path: Path) -> BinaryIO:
    """The file open for reading, if it is a regular one (a symlink to one too): /dev/zero
    never ends, and a FIFO's open or read waits for a writer forever (O_NONBLOCK: not here)."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise _NotRegular(f"{path} is no regular file")
    return os.fdopen(descriptor, "rb")


def _read(path: Path) -> bytes:
    with _open_regular(path) as file:
        return file.read()


def _json(path: Path) -> Any:
    """The file's JSON; ValueError for JSON nested past the parser's recursion limit too (a
    manifest is no checksummed file: RecursionError escaped every caller's checks)."""
    try:
        return json.loads(_read(path))
    except RecursionError:
        raise ValueError(f"{path.name} is nested too deep") from None
