"""The trainer repairs what it finds broken in the artifact directory, and a full disk fails one
strategy with a clear note, not the whole cycle."""

from __future__ import annotations

import pytest

from adapters.fs_artifacts import FilesystemArtifactStore
from adapters.in_memory import InMemoryStore, InMemoryUnitOfWork
from adapters.item_cf import ItemCFRecommender
from adapters.popularity import PopularityRecommender
from application.use_cases.fit_strategies import FitStrategies
from application.use_cases.log_interactions import LogInteractions
from application.use_cases.upsert_courses import UpsertCourses
from tests.conftest import CATALOG, event


@pytest.fixture
def fit(tmp_path):  # type: ignore[no-untyped-def]
    memory = InMemoryStore()
    uow = lambda: InMemoryUnitOfWork(memory)  # noqa: E731
    UpsertCourses(uow).execute(CATALOG)
    LogInteractions(uow).execute(
        [event("u1", "course_sql_basic", "enroll"), event("u2", "course_ml_basic", "view")]
    )
    store = FilesystemArtifactStore(tmp_path / "models")
    factories = {"popularity": PopularityRecommender, "item_cf": ItemCFRecommender}
    fit = FitStrategies(uow, factories, store)
    fit.execute()
    return fit


def test_a_current_pointer_to_a_removed_version_is_replaced_at_the_next_fit(fit):
    (fit.store.root / "popularity" / "current").write_text("20200101T000000000000Z-gone00")
    fitted = fit.execute()
    assert [f.strategy for f in fitted] == ["popularity"]
    assert fit.store.load("popularity", fit.store.current_version("popularity")).files


def test_a_truncated_current_version_is_refitted_into_one_that_loads(fit):
    """Though the data did not change (a stat finds it): the refit writes its files again
    instead of linking the damaged ones, else every refit after it would be broken too."""
    version = fit.store.current_version("item_cf")
    _damage(fit.store.root / "item_cf" / "versions" / version, lambda data: data[:3])
    fitted = fit.execute()
    assert [f.strategy for f in fitted] == ["item_cf"]
    repaired = fit.store.current_version("item_cf")
    assert repaired != version
    assert fit.store.load("item_cf", repaired).files  # checked against its checksums
    assert fit.execute() == []  # and it stays repaired


def test_a_file_overwritten_at_its_size_is_not_carried_into_the_next_version(fit):
    """Only a full read finds it (web workers do, and keep the version before): the next
    refit writes the file again rather than linking it."""
    version = fit.store.current_version("item_cf")
    _damage(fit.store.root / "item_cf" / "versions" / version, lambda data: bytes(len(data)))
    fit.execute(force=True)
    repaired = fit.store.current_version("item_cf")
    assert repaired != version and fit.store.load("item_cf", repaired).files


def _damage(folder, change) -> None:  # type: ignore[no-untyped-def]
    for path in folder.iterdir():
        if path.name != "manifest.json":
            path.write_bytes(change(path.read_bytes()))


def test_a_full_disk_fails_one_strategy_with_a_clear_note_and_the_next_still_publishes(
    fit, monkeypatch
):
    publish = fit.store.publish

    def disk_full_for_popularity(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == "popularity":
            raise OSError(28, "No space left on device")
        return publish(name, *args, **kwargs)

    monkeypatch.setattr(fit.store, "publish", disk_full_for_popularity)
    before = fit.store.current_version("popularity")
    fitted = {f.strategy: f for f in fit.execute(force=True)}
    assert fitted["popularity"].failed and fitted["popularity"].version is None
    assert "could not be published: No space left on device" in fitted["popularity"].note
    assert fitted["item_cf"].version is not None
    assert fit.store.current_version("popularity") == before
