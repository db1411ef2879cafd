"""Artifacts kept in the database (RS_MODELS_STORE=database): what the folder's tests cannot
say of it, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import tracemalloc

import pytest
from sqlalchemy import event, text

from adapters.sqlalchemy import artifacts
from adapters.sqlalchemy.artifacts import DatabaseArtifactStore
from adapters.sqlalchemy.engine import build_engine
from application.ports import CorruptArtifact, StorageUnavailable


@pytest.fixture
def engine(database_url):  # type: ignore[no-untyped-def]
    engine = build_engine(database_url)
    yield engine
    engine.dispose()


def test_another_host_loads_what_one_published_without_any_shared_folder(engine, database_url):
    version = DatabaseArtifactStore(engine).publish("model", {"weights": b"\x00" * 10}, {})
    elsewhere = build_engine(database_url)  # another process, on another host
    try:
        store = DatabaseArtifactStore(elsewhere)
        assert store.current_version("model") == version
        assert store.load("model", version).files == {"weights": b"\x00" * 10}
        assert store.current_age("model").total_seconds() < 60  # type: ignore[union-attr]
    finally:
        elsewhere.dispose()


def test_the_check_before_a_fit_passes_where_publishes_can_write_and_writes_nothing(engine):
    store = DatabaseArtifactStore(engine)
    store.check_writable()
    assert store.versions("model") == []
    version = store.publish("model", {"f": b"1"}, {})
    store.check_writable()
    assert store.versions("model") == [version] and store.current_version("model") == version


def test_a_database_taking_no_writes_fails_the_check_and_a_publish_as_one_down_until_it_does(
    engine,
):
    """A standby (PostgreSQL read-only transactions, SQLite query_only) answers the models'
    reads and refuses their writes until it is promoted: StorageUnavailable, as every other
    write says it (the trainer waits for it, as it did before the check), never a DBAPIError
    the callers would show as a traceback, nor a PermissionError asking for grants the role
    has (the trainer stopped for good)."""
    store = DatabaseArtifactStore(engine)
    version = store.publish("model", {"f": b"1"}, {})
    refusing = "SET default_transaction_read_only = on"
    if engine.dialect.name == "sqlite":
        refusing = "PRAGMA query_only = ON"
    engine.dispose()

    @event.listens_for(engine, "connect")
    def read_only(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute(refusing)
        cursor.close()
        dbapi_connection.commit()

    with pytest.raises(StorageUnavailable, match="the database is read-only"):
        store.check_writable()
    with pytest.raises(StorageUnavailable, match="the database is read-only"):
        store.publish("model", {"f": b"2"}, {})
    assert store.versions("model") == [version] and store.current_version("model") == version


@pytest.mark.postgres
def test_a_role_never_granted_the_models_tables_fails_the_check_naming_what_it_needs(
    limited_role, postgres_url
):
    ungranted = build_engine(limited_role("INSERT, UPDATE, DELETE")[0])
    owner = build_engine(postgres_url)
    try:
        first = DatabaseArtifactStore(owner).publish("model", {"f": b"1"}, {})
        store = DatabaseArtifactStore(ungranted)
        assert store.current_version("model") == first  # it reads them all the same
        with pytest.raises(PermissionError) as refused:
            store.check_writable()
        assert "permission denied for table artifact_versions" in str(refused.value)
        assert "SELECT, INSERT, UPDATE and DELETE on artifact_versions, artifact_files" in str(
            refused.value
        )
        with pytest.raises(PermissionError, match="permission denied"):
            store.publish("model", {"f": b"2"}, {})
        assert DatabaseArtifactStore(owner).versions("model") == [first]
    finally:
        ungranted.dispose()
        owner.dispose()


def test_a_file_larger_than_a_part_is_written_and_read_in_parts(engine, monkeypatch):
    monkeypatch.setattr(artifacts, "PART_BYTES", 4)
    store = DatabaseArtifactStore(engine)
    version = store.publish("model", {"weights": b"0123456789", "empty": b""}, {})
    with engine.connect() as connection:
        parts = connection.execute(text("SELECT count(*) FROM artifact_files")).scalar()
    assert parts == 3 + 1
    assert store.load("model", version).files == {"weights": b"0123456789", "empty": b""}


def test_a_row_changed_by_hand_is_rejected_and_found_by_a_new_process(engine):
    store = DatabaseArtifactStore(engine)
    version = store.publish("model", {"f": b"good"}, {})
    store.verify("model", version)
    with engine.begin() as connection:
        connection.execute(text("UPDATE artifact_files SET data = :evil"), {"evil": b"evil"})
    with pytest.raises(CorruptArtifact, match="f does not match its checksum"):
        store.load("model", version)
    with pytest.raises(CorruptArtifact, match="f does not match its checksum"):
        DatabaseArtifactStore(engine).verify("model", version)


def test_a_missing_or_truncated_file_is_rejected_even_when_only_the_manifest_is_read(engine):
    store = DatabaseArtifactStore(engine)
    version = store.publish("model", {"f": b"good", "g": b"also"}, {})
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE artifact_files SET data = :short WHERE filename = 'f'"), {"short": b"go"}
        )
        connection.execute(text("DELETE FROM artifact_files WHERE filename = 'g'"))
    with pytest.raises(CorruptArtifact, match="f is 2 bytes, 4 were published"):
        store.load("model", version, only=())
    with engine.begin() as connection:
        connection.execute(text("UPDATE artifact_files SET data = :good"), {"good": b"good"})
    with pytest.raises(CorruptArtifact, match="g is missing"):
        store.load("model", version, only=["f"])


def test_a_publish_that_fails_midway_leaves_no_trace_and_the_last_version_current(
    engine, monkeypatch
):
    store = DatabaseArtifactStore(engine)
    first = store.publish("model", {"f": b"1"}, {})
    staged = store._stage

    def full_disk(name, version, files, manifest):  # type: ignore[no-untyped-def]
        staged(name, version, {"f": files["f"]}, manifest)  # the first file, then the failure
        raise OSError("could not extend file: No space left on device")

    monkeypatch.setattr(store, "_stage", full_disk)
    with pytest.raises(OSError, match="No space left"):
        store.publish("model", {"f": b"2", "g": b"3"}, {})
    assert store.current_version("model") == first
    assert store.versions("model") == [first]
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT count(*) FROM artifact_versions")).scalar()
        assert (rows, connection.execute(text("SELECT count(*) FROM artifact_files")).scalar()) == (
            1,
            1,
        )


def test_a_version_a_killed_publish_staged_is_removed_by_a_later_publish(engine):
    store = DatabaseArtifactStore(engine)
    store._stage("model", "20200101T000000000000Z-killed", {"f": b"x"}, {"files": {}})
    with engine.begin() as connection:  # staged two hours ago, never published
        connection.execute(
            text("UPDATE artifact_versions SET staged_at = :at"), {"at": "2020-01-01 00:00:00+00"}
        )
    assert store.versions("model") == []  # not a version until published
    version = store.publish("model", {"f": b"1"}, {})
    with engine.connect() as connection:
        left = connection.execute(text("SELECT version FROM artifact_versions")).scalars().all()
    assert left == [version]


@pytest.mark.postgres
def test_a_publish_that_prunes_several_large_versions_removes_them_a_part_a_statement(
    postgres_url, monkeypatch
):
    """Removed in one statement, the versions a publish pruned (RS_KEEP_VERSIONS lowered: three
    two_tower versions of 400 MB) took longer than RS_DB_TIMEOUT_SECONDS, and the publish failed,
    again at every cycle: the strategy was never published again. A part a statement, no
    statement takes longer however many versions go (timed, the test failed on a busy machine
    whatever the code did)."""
    monkeypatch.setattr(artifacts, "PART_BYTES", 1 << 20)
    engine = build_engine(postgres_url)
    removed: list[int] = []

    def counted(conn, cursor, statement, *_):  # type: ignore[no-untyped-def]
        if statement.startswith("DELETE FROM artifact_files"):
            removed.append(cursor.rowcount)

    try:
        data = bytes(4 << 20)  # four parts
        for i in range(4):  # four models, each kept
            model = {"trained_at": f"2026-01-0{i + 1}T00:00:00+00:00"}
            DatabaseArtifactStore(engine, keep=4).publish("two_tower", {"w": data}, model)
        event.listen(engine, "after_cursor_execute", counted)
        lowered = DatabaseArtifactStore(engine, keep=2)
        version = lowered.publish("two_tower", {"w": data}, {"trained_at": "2026-02-01T00:00"})
        assert lowered.current_version("two_tower") == version
        assert len(lowered.versions("two_tower")) == 2
        assert set(removed) == {1} and len(removed) == 3 * 4  # three versions of four parts
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_discard_beside_a_publish_removing_large_versions_does_not_wait_past_the_lock_timeout(
    postgres_url, monkeypatch
):
    """The files of the versions a publish pruned were removed while it held the strategy's
    lock: seconds for versions of hundreds of MB, and another trainer's discard (or publish) of
    the strategy meanwhile waited past RS_DB_TIMEOUT_SECONDS and failed."""
    monkeypatch.setattr(artifacts, "PART_BYTES", 1 << 20)
    data = bytes(4 << 20)
    engine, other = build_engine(postgres_url, timeout=0.5), build_engine(postgres_url, timeout=0.5)
    try:
        versions = [
            DatabaseArtifactStore(engine, keep=4).publish(
                "two_tower", {"w": data}, {"trained_at": f"2026-01-0{i + 1}T00:00:00+00:00"}
            )
            for i in range(4)
        ]
        discarded: list[object] = []

        def meanwhile(conn, cursor, statement, *_):  # type: ignore[no-untyped-def]
            if statement.startswith("DELETE FROM artifact_files") and not discarded:
                discarded.append(None)
                worker = threading.Thread(target=discard)
                worker.start()
                worker.join()

        def discard() -> None:
            try:
                DatabaseArtifactStore(other).discard("two_tower", versions[0])
                discarded.append("discarded")
            except Exception as error:  # noqa: BLE001
                discarded.append(error)

        event.listen(engine, "before_cursor_execute", meanwhile)
        DatabaseArtifactStore(engine, keep=2).publish("two_tower", {"w": data}, {})
        assert discarded == [None, "discarded"]
    finally:
        engine.dispose()
        other.dispose()


def test_a_large_file_is_loaded_without_holding_it_twice(engine):
    """A version's parts were all held, then joined into a copy: a web worker loading a
    two_tower version of 400 MB peaked at 891 MB (a folder's load, at its size), and each
    worker of a host loads it."""
    store = DatabaseArtifactStore(engine)
    size = 48 << 20
    version = store.publish("model", {"weights": bytes(size)}, {})
    tracemalloc.start()
    try:
        loaded = store.load("model", version).files["weights"]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(loaded) == size
    assert peak < 1.5 * size, f"{peak / size:.2f} times the file"


@pytest.mark.postgres
def test_a_row_changed_by_hand_after_a_verify_is_found_by_the_same_trainer(postgres_url):
    """A trainer verifies the current version at every cycle, and read a version's files once
    per process: a file rewritten by hand at its size afterwards (or restored from another
    backup) was never found by it, so it never fitted a new version, while every web worker
    starting since rejected the version and served an older one. A folder's store finds it at
    the next cycle (the file's stat changed); PostgreSQL tells a changed row too."""
    engine = build_engine(postgres_url)
    try:
        store = DatabaseArtifactStore(engine)
        version = store.publish("model", {"f": b"good"}, {})
        store.verify("model", version)
        store.verify("model", version)  # unchanged: not read again
        with engine.begin() as connection:
            connection.execute(text("UPDATE artifact_files SET data = :evil"), {"evil": b"evil"})
        with pytest.raises(CorruptArtifact, match="f does not match its checksum"):
            store.verify("model", version)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_publish_of_any_base_beside_another_first_publish_is_made_current(postgres_url):
    """Publishing whatever is current (ANY) refused with StaleBase ("None was published while
    this work was based on *") when another host's first publish of the name committed
    between its look and its own (SQLite's write lock keeps them apart): the folder's publish
    never refuses it."""
    engine, other = build_engine(postgres_url), build_engine(postgres_url)
    try:
        theirs: list[str] = []

        def meanwhile(conn, cursor, statement, *_):  # type: ignore[no-untyped-def]
            if statement.startswith("INSERT INTO artifact_current") and not theirs:
                theirs.append(DatabaseArtifactStore(other).publish("bandit", {"f": b"1"}, {}))

        event.listen(engine, "before_cursor_execute", meanwhile)
        store = DatabaseArtifactStore(engine)
        ours = store.publish("bandit", {"f": b"2"}, {})
        assert store.current_version("bandit") == ours
        assert store.versions("bandit") == sorted([*theirs, ours], reverse=True)
    finally:
        engine.dispose()
        other.dispose()
