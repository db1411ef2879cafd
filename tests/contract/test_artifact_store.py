"""The artifact stores, in a folder and in the database: atomic versions, checksums, pruning."""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timedelta

import pytest

from adapters.fs_artifacts import LINK_ABOVE, FilesystemArtifactStore
from adapters.sqlalchemy.artifacts import DatabaseArtifactStore
from adapters.sqlalchemy.engine import build_engine
from application.ports import CorruptArtifact, StaleBase


@pytest.fixture
def store(tmp_path):  # type: ignore[no-untyped-def]
    return FilesystemArtifactStore(tmp_path, keep=2)


@pytest.fixture(params=["folder", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stores(request, tmp_path):  # type: ignore[no-untyped-def]
    """keep -> a store of each kind in turn: a folder, SQLite, PostgreSQL (RS_MODELS_STORE)."""
    if request.param == "folder":
        yield lambda keep=2: FilesystemArtifactStore(tmp_path, keep=keep)
        return
    engine = build_engine(request.getfixturevalue(f"{request.param}_url"))
    yield lambda keep=2: DatabaseArtifactStore(engine, keep=keep)
    engine.dispose()


@pytest.fixture
def any_store(stores):  # type: ignore[no-untyped-def]
    return stores()


def test_a_published_version_becomes_current_and_reads_back(any_store):
    assert any_store.current_version("model") is None
    version = any_store.publish(
        "model", {"weights.bin": b"\x00\x01", "ids.json": b"[1]"}, {"metrics": {"recall": 0.3}}
    )
    assert any_store.current_version("model") == version
    artifact = any_store.load("model", version)
    assert artifact.files == {"weights.bin": b"\x00\x01", "ids.json": b"[1]"}
    assert artifact.manifest["metrics"] == {"recall": 0.3}
    assert artifact.manifest["files"]["weights.bin"]["bytes"] == 2


def test_only_the_newest_versions_are_kept(any_store):
    versions = [any_store.publish("model", {"f": bytes([i])}, {}) for i in range(4)]
    assert any_store.versions("model") == list(reversed(versions))[:2]
    assert any_store.current_version("model") == versions[-1]


def test_a_discarded_version_is_gone_and_the_current_one_cannot_be_discarded(any_store):
    old, current = (any_store.publish("model", {"f": bytes([i])}, {}) for i in range(2))
    with pytest.raises(ValueError, match="is current"):
        any_store.discard("model", current)
    any_store.discard("model", old)
    any_store.discard("model", "no-such-version")  # gone already: nothing to do
    assert any_store.versions("model") == [current]
    assert any_store.load("model", current).files == {"f": b"\x01"}


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


def test_a_publish_based_on_a_replaced_version_is_refused_and_changes_nothing(any_store):
    first = any_store.publish("model", {"f": b"1"}, {}, based_on=None)
    newer = any_store.publish("model", {"f": b"2"}, {}, based_on=first)
    with pytest.raises(StaleBase, match="nothing was replaced"):
        any_store.publish("model", {"f": b"3"}, {}, based_on=first)
    with pytest.raises(StaleBase):
        any_store.publish("model", {"f": b"3"}, {}, based_on=None)  # "nothing was published yet"
    assert any_store.current_version("model") == newer
    assert any_store.load("model", newer).files == {"f": b"2"}


def test_concurrent_publishes_based_on_one_version_let_exactly_one_through(any_store):
    base = any_store.publish("model", {"f": b"0"}, {})
    outcomes: list[str] = []

    def publish(i: int) -> None:
        try:
            any_store.publish("model", {"f": bytes([i])}, {}, based_on=base)
            outcomes.append("published")
        except StaleBase:
            outcomes.append("refused")

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["published"] + ["refused"] * 7


def test_large_files_a_new_version_shares_with_the_current_one_are_linked_not_copied(store):
    weights = b"w" * LINK_ABOVE
    first = store.publish("model", {"weights": weights, "ids": b"[1]", "index": b"a"}, {})
    second = store.publish("model", {"weights": weights, "ids": b"[1]", "index": b"b"}, {})
    folder = store.root / "model" / "versions"
    assert (folder / first / "weights").stat().st_ino == (folder / second / "weights").stat().st_ino
    assert (folder / first / "index").stat().st_ino != (folder / second / "index").stat().st_ino
    # small and unchanged: written anew, so editing one version's copy spares the other
    assert (folder / first / "ids").stat().st_ino != (folder / second / "ids").stat().st_ino
    assert store.load("model", second).files == {"weights": weights, "ids": b"[1]", "index": b"b"}


def test_a_small_file_edited_in_place_damages_one_version_not_every_version_kept(store):
    first = store.publish("model", {"ids": b'["course_python_basic"]', "index": b"a"}, {})
    second = store.publish("model", {"ids": b'["course_python_basic"]', "index": b"b"}, {})
    path = store.root / "model" / "versions" / second / "ids"
    path.write_text(path.read_text().replace("python", "pythox"))  # same size, in place
    with pytest.raises(CorruptArtifact, match="ids does not match its checksum"):
        store.load("model", second)
    assert store.load("model", first).files["ids"] == b'["course_python_basic"]'


def test_verify_finds_a_file_rewritten_at_its_size_and_reads_only_what_changed(store, monkeypatch):
    import os

    import adapters.fs_artifacts as fs

    version = store.publish("model", {"weights": b"w" * 100, "ids": b"[1]"}, {})
    for path in (store.root / "model" / "versions" / version).iterdir():
        os.utime(path, (1e9, 1e9))  # long settled: a later write cannot share its mtime
    assert store.verify("model", version).manifest["version"] == version
    read = []
    holds = fs._holds
    monkeypatch.setattr(fs, "_holds", lambda path, sha: read.append(path.name) or holds(path, sha))
    assert store.verify("model", version).files == {}
    assert read == []  # nothing changed on disk: a stat each, no read
    (store.root / "model" / "versions" / version / "ids").write_bytes(b"[2]")
    with pytest.raises(CorruptArtifact, match="model .*: ids does not match its checksum"):
        store.verify("model", version)
    assert read == ["ids"]


def test_fewer_than_two_kept_versions_are_refused(stores):
    with pytest.raises(ValueError, match="at least 2 versions are kept, not 1"):
        stores(keep=1)


def test_a_load_can_read_only_some_files_still_checked(store):
    version = store.publish("model", {"big": b"x" * 100, "small": b"s"}, {})
    assert store.load("model", version, only=["small"]).files == {"small": b"s"}
    assert store.load("model", version, only=()).files == {}
    (store.root / "model" / "versions" / version / "small").write_bytes(b"t")
    with pytest.raises(CorruptArtifact):
        store.load("model", version, only=["small"])


def test_a_truncated_file_is_rejected_even_when_only_the_manifest_is_read(store, tmp_path):
    version = store.publish("model", {"f": b"good"}, {})
    (tmp_path / "model" / "versions" / version / "f").write_bytes(b"go")
    with pytest.raises(CorruptArtifact, match="f is 2 bytes, 4 were published"):
        store.load("model", version, only=())


def test_a_publish_that_fails_midway_leaves_no_trace_and_the_last_version_current(
    store, tmp_path, monkeypatch
):
    import adapters.fs_artifacts

    first = store.publish("model", {"f": b"1"}, {})
    written = []

    def disk_full(path, data):  # type: ignore[no-untyped-def]
        if written:
            raise OSError(28, "No space left on device")
        written.append(path)
        path.write_bytes(data)

    monkeypatch.setattr(adapters.fs_artifacts, "_write", disk_full)
    with pytest.raises(OSError, match="No space left"):
        store.publish("model", {"a": b"2", "b": b"3"}, {})
    assert store.current_version("model") == first
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        ".publish.lock",
        "current",
        "versions",
    ]


def test_a_store_that_cannot_write_says_so_before_any_work(tmp_path):
    (tmp_path / "file").write_text("")
    FilesystemArtifactStore(tmp_path / "models").check_writable()
    with pytest.raises(OSError):
        FilesystemArtifactStore(tmp_path / "file" / "models").check_writable()


@pytest.mark.parametrize(
    "manifest",
    # the last nested past the JSON parser's recursion limit (RecursionError, not ValueError)
    ["[]", '{"files": []}', '{"files": {"f": "x"}}', "[" * 100_000 + "]" * 100_000],
)
def test_a_manifest_of_the_wrong_shape_is_rejected_as_corrupt(store, tmp_path, manifest):
    version = store.publish("model", {"f": b"good"}, {})
    (tmp_path / "model" / "versions" / version / "manifest.json").write_text(manifest)
    with pytest.raises(CorruptArtifact, match="manifest"):
        store.load("model", version, only=())


def test_a_publish_removes_what_a_killed_publish_left_staged(store, tmp_path):
    first = store.publish("model", {"f": b"1"}, {})
    (tmp_path / "model" / ".staging-20260101T000000000000Z-dead00").mkdir()
    (tmp_path / "model" / ".staging-20260101T000000000000Z-dead00" / "f").write_bytes(b"x" * 99)
    (tmp_path / "model" / ".current-20260101T000000000000Z-dead00").write_text(first)
    second = store.publish("model", {"f": b"2"}, {})
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        ".publish.lock",
        "current",
        "versions",
    ]
    assert store.current_version("model") == second


def test_a_version_a_killed_publish_put_in_place_but_never_made_current_is_removed(
    store, monkeypatch
):
    """A trainer killed (SIGKILL) after its version was renamed into place and before `current`
    named it left a whole version that never answered: kept as one of the models, it pushed the
    model that answered before out of reach, and `recsys rollback` restored it instead."""
    import os

    answered = store.publish("model", {"f": b"1"}, {})

    def killed(source, target):  # type: ignore[no-untyped-def]
        raise SystemExit("the trainer is killed here")

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(SystemExit):
        store.publish("model", {"f": b"2"}, {})
    monkeypatch.undo()
    assert store.current_version("model") == answered
    newest = store.publish("model", {"f": b"3"}, {})
    assert store.versions("model") == [newest, answered]


def test_a_publisher_whose_clock_is_behind_still_keeps_the_version_it_replaced(
    tmp_path, monkeypatch
):
    # Two hosts share the directory; the second's clock is two minutes behind (or stepped back).
    import adapters.fs_artifacts as fs

    store = FilesystemArtifactStore(tmp_path, keep=3)
    first = [store.publish("model", {"f": bytes([i])}, {}) for i in range(2)]

    class Behind(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def, override]
            return datetime.now(tz) - timedelta(minutes=2)

    monkeypatch.setattr(fs, "datetime", Behind)
    replaced = store.publish("model", {"f": b"2"}, {})
    newest = store.publish("model", {"f": b"3"}, {})
    # a web worker that has just read `current` must still find that version
    assert store.versions("model") == [newest, replaced, first[-1]]
    assert store.current_version("model") == newest


def test_versions_that_hold_a_kept_model_again_push_no_other_model_out(stores):
    """A rollback, its release and a reindex each publish the model rolled back to again: the
    model rolled back from, and an older one, stay kept (the versions kept count models)."""
    store = stores(keep=3)
    older, rolled_to, rolled_from = (
        store.publish("model", {"f": bytes([day])}, {"trained_at": f"2026-11-0{day}T00:00:00"})
        for day in (1, 2, 3)
    )
    again = {"trained_at": "2026-11-02T00:00:00", "restores": rolled_to}
    held = store.publish("model", {"f": b"\x02"}, {**again, "held": True})
    released = store.publish("model", {"f": b"\x02"}, {**again, "held": False})
    reindexed = store.publish("model", {"f": b"\x02", "index": b"new"}, again)
    # what answers, what it replaced (a reader may be loading it), what the rollback restores
    assert store.versions("model") == [reindexed, released, rolled_from, rolled_to, older]
    assert held not in store.versions("model")


def test_only_the_newest_models_are_kept_besides_what_answers_and_what_it_restores(stores):
    store = stores(keep=2)
    first, second, third = (
        store.publish("model", {"f": bytes([day])}, {"trained_at": f"2026-11-0{day}T00:00:00"})
        for day in (1, 2, 3)
    )
    assert store.versions("model") == [third, second]
    again = store.publish("model", {"f": b"\x02"}, {"trained_at": "2026-11-02T00:00:00"})
    assert store.versions("model") == [again, third]  # the same model as `second`, newer
    fourth = store.publish("model", {"f": b"\x04"}, {"trained_at": "2026-11-04T00:00:00"})
    assert store.versions("model") == [fourth, again]
    assert first not in store.versions("model")


def test_a_damaged_copy_of_a_model_does_not_stand_for_it_when_versions_are_pruned(tmp_path):
    """The newest copy of a model (a reindex's) counted for the model, whole or not: with it
    damaged, the whole older copy was pruned, and a rollback to that model had nothing left."""
    store = FilesystemArtifactStore(tmp_path, keep=2)
    publish = store.publish
    publish("model", {"f": b"\x01"}, {"trained_at": "2026-11-01T00:00:00"})
    second = publish("model", {"f": b"\x02"}, {"trained_at": "2026-11-02T00:00:00"})
    reindexed = publish(
        "model", {"f": b"\x02", "index": b"new"}, {"trained_at": "2026-11-02T00:00:00"}
    )
    (tmp_path / "model" / "versions" / reindexed / "index").write_bytes(b"")  # truncated
    newest = publish("model", {"f": b"\x03"}, {"trained_at": "2026-11-03T00:00:00"})
    assert store.versions("model") == [newest, reindexed, second]
    assert store.load("model", second).files == {"f": b"\x02"}
    # the damaged copy goes once older than every version kept
    fourth = publish("model", {"f": b"\x04"}, {"trained_at": "2026-11-04T00:00:00"})
    assert store.versions("model") == [fourth, newest]


def _planted_outside(tmp_path):  # type: ignore[no-untyped-def]
    """A whole version, manifest and sums right, in a folder outside the store."""
    outside = FilesystemArtifactStore(tmp_path / "elsewhere", keep=2)
    version = outside.publish("model", {"f": b"planted"}, {})
    return outside.root / "model" / "versions" / version


def test_a_current_pointer_naming_a_folder_outside_the_versions_is_no_version(store, tmp_path):
    """Workers would load whatever folder the pointer reaches (`../../..` or an absolute
    path); such a pointer is damaged, as bytes that are not text are, and the trainer replaces
    it."""
    store.publish("model", {"f": b"good"}, {})
    planted = _planted_outside(tmp_path)
    for pointer in (f"../../{planted.relative_to(tmp_path)}", str(planted)):
        (store.root / "model" / "current").write_text(pointer)
        assert store.current_version("model") is None
        with pytest.raises(CorruptArtifact, match="no version name"):
            store.load("model", pointer)


@pytest.mark.parametrize("filename", ["../../../secret", "/etc/hostname", "sub/f", ".."])
def test_a_manifest_listing_a_file_outside_its_version_is_rejected_as_corrupt(
    store, tmp_path, filename
):
    """Else a load reads (and a damage message tells of) any file the process may read."""
    (tmp_path / "secret").write_text("secret")
    version = store.publish("model", {"f": b"good"}, {})
    manifest = tmp_path / "model" / "versions" / version / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"f":', json.dumps(filename) + ":"))
    for only in (None, ()):
        with pytest.raises(CorruptArtifact, match="manifest"):
            store.load("model", version, only=only)


@pytest.mark.parametrize("special", ["/dev/null", "fifo"])
def test_a_version_file_that_is_no_regular_file_is_rejected_not_read_forever(
    store, tmp_path, special
):
    """A device never ends (a file linked to /dev/zero made a load run out of memory and a
    verify hash forever) and a FIFO never answers (every load and verify hung): a published
    file is a regular file, and anything else is damage, found without reading it. An empty
    file, as a device's or a FIFO's size is 0 and passes the size check."""
    version = store.publish("model", {"f": b""}, {})
    path = tmp_path / "model" / "versions" / version / "f"
    path.unlink()
    if special == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to(special)
    for check in (lambda: store.load("model", version), lambda: store.verify("model", version)):
        raised: list[BaseException] = []
        reader = threading.Thread(target=_raised_by, args=(check, raised), daemon=True)
        reader.start()
        reader.join(10)
        assert not reader.is_alive(), "the read of a FIFO never returned"
        assert raised and isinstance(raised[0], CorruptArtifact), raised
        assert "no regular file" in str(raised[0])


def _raised_by(check, raised):  # type: ignore[no-untyped-def]
    try:
        check()
    except BaseException as error:  # noqa: BLE001 - handed to the test's thread
        raised.append(error)
