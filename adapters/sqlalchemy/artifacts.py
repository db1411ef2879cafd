"""Artifacts in the database (RS_MODELS_STORE=database, migration 0014): hosts share PostgreSQL
alone, no volume beside it.

A publish writes the version's files in parts, each its own short transaction, while nothing
names the version yet; then one transaction makes it current if the version it was based on
still is (an UPDATE of the name's row, which a concurrent publish waits on and then finds
changed), and forgets the versions no longer kept, whose files are removed once the lock is let
go (a part a statement: hundreds of MB take seconds). A version's rows are never changed after:
loading it again finds what was published, and a process checks its sums once (on PostgreSQL
again when a row was written since: by hand, a restore).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Executable,
    delete,
    false,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from adapters.sqlalchemy.dialects import database_now, utc
from adapters.sqlalchemy.tables import artifact_current, artifact_files, artifact_versions
from application.manifests import described, pruned, version_name
from application.ports import (
    ANY,
    Artifact,
    ArtifactsDenied,
    ArtifactStore,
    CorruptArtifact,
    StaleBase,
    StorageUnavailable,
)

log = logging.getLogger(__name__)

#: bytes of a file per row: a statement moves at most this, well within the statement timeout
PART_BYTES = 8 << 20
#: a version staged this long ago and never published was left by a publish that was killed
STAGED_FOR = timedelta(hours=1)
#: SQLSTATE of a database that answers and refuses this role the write: insufficient privilege
REFUSED = "42501"
#: SQLSTATE of a database that takes no writes for now (a standby, until it is promoted)
READ_ONLY = "25006"

#: what a role refused the models' tables is told to grant, by what it was refused
GRANTS = {
    "reads": ": GRANT SELECT ON artifact_versions, artifact_files, artifact_current TO the role of "
    "RS_DATABASE_URL (and INSERT, UPDATE, DELETE too where models are published: trainers, "
    "copy-models, rollback)",
    "writes": "; this role needs SELECT, INSERT, UPDATE and DELETE on artifact_versions, "
    "artifact_files and artifact_current",
}


@contextmanager
def _refused(what: str) -> Iterator[None]:
    """A database that refuses this role the models' reads or writes (a missing grant: a role
    granted the service's tables before migration 0014 made these) is a store this process may
    not use, as a folder that refuses is: ArtifactsDenied, which says what to grant in one line
    (web hosts answer from the stand-ins, the CLI and a starting trainer stop), not a 500 or a
    traceback. One that takes no writes for now (a standby, a read-only SQLite file) is waited
    for as one down, as every other write does (StorageUnavailable): a trainer started during a
    failover fits once it is promoted. Also a decorator, for the reads."""
    try:
        yield
    except DBAPIError as error:
        code = getattr(error.orig, "sqlstate", None)
        name = getattr(error.orig, "sqlite_errorname", "")
        said = (str(error.orig).strip().splitlines() or ["permission denied"])[0]
        if code == READ_ONLY or name.startswith("SQLITE_READONLY"):
            raise StorageUnavailable(
                f"the database is read-only ({said}): no model can be published until it takes "
                "writes again"
            ) from error
        if code != REFUSED:
            raise
        raise ArtifactsDenied(
            f"the database refuses the models' {what} ({said}){GRANTS[what]}"
        ) from error


class DatabaseArtifactStore(ArtifactStore):
    def __init__(self, engine: Engine, keep: int = 3) -> None:
        if keep < 2:
            # a reader that has just resolved `current` must still find it after a publish
            raise ValueError(f"at least 2 versions are kept, not {keep}")
        self.engine = engine
        self.keep = keep
        #: (name, version) whose every file matched its sum here -> its rows as written then
        self._verified: dict[tuple[str, str], frozenset[tuple[Any, ...]] | None] = {}

    def check_writable(self) -> None:
        """Every kind of statement a publish makes, each matching no row, in a transaction rolled
        back: a role without the privileges (tables a migration made under another role, never
        granted to this one) or a read-only standby refuses them as it would the publish at the
        end of a whole fit. Needs the schema: the trainer checks once it has migrated."""
        with _refused("writes"), self.engine.connect() as connection:
            for statement in _writes():
                connection.execute(statement)
            connection.rollback()

    def location(self) -> str:
        return "the database"

    def publish(
        self,
        name: str,
        files: Mapping[str, bytes],
        manifest: Mapping[str, Any],
        based_on: str | None = ANY,
    ) -> str:
        now = datetime.now(UTC)
        with _refused("writes"):
            version = version_name(now, self.versions(name))
            try:
                self._stage(name, version, files, described(manifest, name, version, now, files))
                with self.engine.begin() as connection:
                    current = self._make_current(connection, name, version, based_on)
                    self._prune(connection, name, version, current)
            except BaseException:
                try:  # a refused or failed publish leaves nothing (else a later prune removes it)
                    with self.engine.begin() as connection:
                        _forget(connection, name, [version])
                    self._remove_files(name)
                except Exception:  # noqa: BLE001 - the database is down: the first error is the one
                    pass
                raise
        try:
            self._remove_files(name)
        except Exception:  # noqa: BLE001 - published: the next publish removes them
            log.warning("%s: the files of the versions pruned were not all removed", name)
        return version

    def _stage(
        self, name: str, version: str, files: Mapping[str, bytes], manifest: Mapping[str, Any]
    ) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                insert(artifact_versions).values(
                    name=name,
                    version=version,
                    manifest=json.dumps(manifest, sort_keys=True),
                    published=False,
                    staged_at=database_now(),
                )
            )
        for filename, data in files.items():
            for part, start in enumerate(range(0, max(len(data), 1), PART_BYTES)):
                with self.engine.begin() as connection:
                    connection.execute(
                        insert(artifact_files).values(
                            name=name,
                            version=version,
                            filename=filename,
                            part=part,
                            data=data[start : start + PART_BYTES],
                        )
                    )

    def _make_current(
        self, connection: Connection, name: str, version: str, based_on: str | None
    ) -> str | None:
        """Points `current` at `version` if `based_on` still is current (ANY: whatever is);
        returns the version replaced."""
        current = self._locked_current(connection, name)
        if based_on != ANY and based_on != current:
            raise StaleBase(_stale(name, current, based_on))
        if current is None:
            dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
            added = connection.execute(
                dialect.insert(artifact_current)
                .values(name=name, version=version, since=database_now())
                .on_conflict_do_nothing()
                .returning(artifact_current.c.name)
            ).first()
            if added is None:  # another first publish of the name committed meanwhile
                if based_on != ANY:
                    raise StaleBase(_stale(name, self._current(connection, name), based_on))
                current = self._locked_current(connection, name)
        if current is not None:
            moved = connection.execute(
                update(artifact_current)
                .where(artifact_current.c.name == name)
                .where(artifact_current.c.version == current)
                .values(version=version, since=database_now())
            ).rowcount
            if moved != 1:  # another publish made its version current meanwhile
                raise StaleBase(_stale(name, self._current(connection, name), based_on))
        connection.execute(
            update(artifact_versions)
            .where(artifact_versions.c.name == name, artifact_versions.c.version == version)
            .values(published=True)
        )
        return current

    def _locked_current(self, connection: Connection, name: str) -> str | None:
        """The current version, its row locked until the transaction ends (None: no row yet,
        nothing to lock). A first publish committing between the lock and the read leaves a row
        the lock did not see: locked then."""
        locked = _lock(connection, name)
        current = self._current(connection, name)
        if current is not None and not locked:
            _lock(connection, name)
            current = self._current(connection, name)
        return current

    def _prune(self, connection: Connection, name: str, current: str, replaced: str | None) -> None:
        manifests = dict(
            connection.execute(
                select(artifact_versions.c.version, artifact_versions.c.manifest).where(
                    artifact_versions.c.name == name, artifact_versions.c.published
                )
            ).all()
        )
        versions = sorted(manifests, reverse=True)
        removed = pruned(
            versions, lambda v: _manifest(manifests.get(v)), current, replaced, self.keep
        )
        left = connection.execute(
            select(artifact_versions.c.version).where(
                artifact_versions.c.name == name,
                artifact_versions.c.published.is_(False),
                artifact_versions.c.staged_at < database_now(STAGED_FOR),
            )
        )
        _forget(connection, name, [*removed, *left.scalars()])

    def _remove_files(self, name: str) -> None:
        """Removes the files of the name's versions forgotten (by a prune, a discard, a publish
        refused or killed), a part a statement, after the lock is let go: versions of hundreds
        of MB take seconds, and another publish or discard of the name would wait past the
        lock timeout (in one statement, past the statement timeout)."""
        with self.engine.connect() as connection:
            forgotten = connection.execute(
                select(artifact_files.c.version, func.max(artifact_files.c.part))
                .where(
                    artifact_files.c.name == name,
                    ~select(artifact_versions.c.version)
                    .where(
                        artifact_versions.c.name == name,
                        artifact_versions.c.version == artifact_files.c.version,
                    )
                    .exists(),
                )
                .group_by(artifact_files.c.version)
            ).all()
        for version, last in forgotten:
            for part in range(last, -1, -1):
                with self.engine.begin() as connection:
                    connection.execute(
                        delete(artifact_files).where(
                            artifact_files.c.name == name,
                            artifact_files.c.version == version,
                            artifact_files.c.part == part,
                        )
                    )

    def discard(self, name: str, version: str) -> None:
        with _refused("writes"), self.engine.begin() as connection:
            if version == self._locked_current(connection, name):
                raise ValueError(f"{name} {version} is current: it is replaced, not discarded")
            _forget(connection, name, [version])
        self._remove_files(name)

    @_refused("reads")
    def current_version(self, name: str) -> str | None:
        with self.engine.connect() as connection:
            return self._current(connection, name)

    @staticmethod
    def _current(connection: Connection, name: str) -> str | None:
        query = select(artifact_current.c.version).where(artifact_current.c.name == name)
        return connection.execute(query).scalar()

    @_refused("reads")
    def current_age(self, name: str) -> timedelta | None:
        with self.engine.connect() as connection:
            since, now = connection.execute(
                select(artifact_current.c.since, database_now()).where(
                    artifact_current.c.name == name
                )
            ).one_or_none() or (None, None)
        return utc(now) - utc(since) if since is not None else None

    @_refused("reads")
    def versions(self, name: str) -> list[str]:
        with self.engine.connect() as connection:
            found = connection.execute(
                select(artifact_versions.c.version).where(
                    artifact_versions.c.name == name, artifact_versions.c.published
                )
            )
            return sorted(found.scalars(), reverse=True)

    @_refused("reads")
    def load(self, name: str, version: str, only: Iterable[str] | None = None) -> Artifact:
        what = f"{name} {version}"
        with self.engine.connect() as connection:
            text = connection.execute(
                select(artifact_versions.c.manifest).where(
                    artifact_versions.c.name == name,
                    artifact_versions.c.version == version,
                    artifact_versions.c.published,
                )
            ).scalar()
            manifest = _manifest(text)
            if manifest is None:
                why = "no such version" if text is None else "the manifest lists no files and sums"
                raise CorruptArtifact(f"{what}: {why}")
            sizes = dict(
                connection.execute(
                    select(artifact_files.c.filename, func.sum(func.length(artifact_files.c.data)))
                    .where(artifact_files.c.name == name, artifact_files.c.version == version)
                    .group_by(artifact_files.c.filename)
                ).all()
            )
            wanted = None if only is None else set(only)
            files = {}
            for filename, expected in manifest["files"].items():
                if filename not in sizes:
                    raise CorruptArtifact(f"{what}: {filename} is missing")
                if int(sizes[filename]) != expected.get("bytes", sizes[filename]):
                    raise CorruptArtifact(
                        f"{what}: {filename} is {sizes[filename]} bytes, "
                        f"{expected['bytes']} were published"
                    )
                if wanted is None or filename in wanted:
                    files[filename] = self._read(connection, name, version, filename, expected)
        return Artifact(name, version, manifest, files)

    def _read(
        self,
        connection: Connection,
        name: str,
        version: str,
        filename: str,
        expected: Mapping[str, Any],
    ) -> bytes:
        # each part written on as it comes: held all, then joined, a file was held twice
        whole = io.BytesIO()
        for part in range(0, max(int(expected.get("bytes", 0)), 1), PART_BYTES):
            data = connection.execute(
                select(artifact_files.c.data).where(
                    artifact_files.c.name == name,
                    artifact_files.c.version == version,
                    artifact_files.c.filename == filename,
                    artifact_files.c.part == part // PART_BYTES,
                )
            ).scalar()
            if data is None:
                raise CorruptArtifact(f"{name} {version}: {filename} is missing a part")
            whole.write(data)
            del data
        data = whole.getvalue()
        if hashlib.sha256(data).hexdigest() != expected.get("sha256"):
            raise CorruptArtifact(f"{name} {version}: {filename} does not match its checksum")
        return data

    @_refused("reads")
    def verify(self, name: str, version: str) -> Artifact:
        key, written = (name, version), self._written(name, version)
        whole = key not in self._verified or self._verified[key] != written
        manifest = self.load(name, version, only=None if whole else ()).manifest
        self._verified[key] = written  # as before the read: a change meanwhile is read next time
        return Artifact(name, version, manifest, {})

    def _written(self, name: str, version: str) -> frozenset[tuple[Any, ...]] | None:
        """What changes when a part of the version is written again: on PostgreSQL the
        transaction that wrote each row (xmin; a row changed by hand, a restore, gets another),
        elsewhere nothing (SQLite keeps no such thing: its files are read once a process)."""
        if self.engine.dialect.name != "postgresql":
            return None
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(
                    artifact_files.c.filename, artifact_files.c.part, literal_column("xmin::text")
                ).where(artifact_files.c.name == name, artifact_files.c.version == version)
            )
            return frozenset(tuple(row) for row in rows)


def _manifest(text: str | None) -> dict[str, Any] | None:
    """The manifest, if it lists files and sums (None: no version, or a damaged one)."""
    try:
        manifest = json.loads(text) if text is not None else None
    except (ValueError, RecursionError):
        return None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not all(isinstance(v, dict) for v in files.values()):
        return None
    return manifest


def _lock(connection: Connection, name: str) -> bool:
    """Holds the name's publishes back until this transaction ends: a write first (PostgreSQL
    locks the row; SQLite takes its write lock now, not after a read, which a commit meanwhile
    would make stale and SQLite refuse). Whether a row was there to lock."""
    locked = connection.execute(
        update(artifact_current)
        .where(artifact_current.c.name == name)
        .values(name=artifact_current.c.name)
    ).rowcount
    return bool(locked == 1)


def _writes() -> Iterator[Executable]:
    """A statement of each kind publishes, prunes and discards make, matching no row."""
    nothing = false()
    for table in (artifact_versions, artifact_files, artifact_current):
        columns = list(table.c)
        yield select(*columns).where(nothing)
        yield insert(table).from_select(columns, select(*columns).where(nothing))
    yield update(artifact_versions).where(nothing).values(published=True)
    yield update(artifact_current).where(nothing).values(version="")
    yield delete(artifact_versions).where(nothing)
    yield delete(artifact_files).where(nothing)


def _forget(connection: Connection, name: str, versions: list[str]) -> None:
    """The versions are no longer loaded nor listed; their files are removed after
    (DatabaseArtifactStore._remove_files)."""
    if versions:
        connection.execute(
            delete(artifact_versions).where(
                artifact_versions.c.name == name, artifact_versions.c.version.in_(versions)
            )
        )


def _stale(name: str, current: str | None, based_on: str | None) -> str:
    return (
        f"{name} {current} was published while this work was based on "
        f"{based_on or 'no version'}; nothing was replaced"
    )
