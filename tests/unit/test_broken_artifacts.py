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


def test_a_truncated_current_version_is_refitted_though_the_data_did_not_change(fit):
    version = fit.store.current_version("item_cf")
    folder = fit.store.root / "item_cf" / "versions" / version
    damaged = next(p for p in folder.iterdir() if p.name != "manifest.json")
    damaged.write_bytes(damaged.read_bytes()[:3])
    fitted = fit.execute()
    assert [f.strategy for f in fitted] == ["item_cf"]
    assert fit.store.current_version("item_cf") != version


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
