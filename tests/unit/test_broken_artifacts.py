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


@pytest.mark.parametrize("damage", ["a directory", "bytes that are not text"])
def test_a_damaged_current_pointer_is_no_version_and_the_next_fit_replaces_it(fit, damage):
    """Workers fall back as with no version (they answered 500 to every request), and the
    trainer, which read the same pointer, publishes a new one (it failed every cycle)."""
    pointer = fit.store.root / "popularity" / "current"
    pointer.unlink()
    if damage == "a directory":
        pointer.mkdir()
        (pointer / "x").write_text("x")
    else:
        pointer.write_bytes(b"\xff\xfe2026")
    assert fit.store.current_version("popularity") is None
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


def test_a_file_rewritten_in_place_at_its_size_is_replaced_though_the_data_did_not_change(fit):
    """A stat alone misses it (the size is right): the trainer checks the checksums of what
    changed on disk since it last found the version whole."""
    from application.trainer import summary

    assert fit.execute() == []
    version = fit.store.current_version("item_cf")
    _damage(fit.store.root / "item_cf" / "versions" / version, lambda data: bytes(len(data)))
    fitted = fit.execute()
    assert [f.strategy for f in fitted] == ["item_cf"]
    assert f"replaces a damaged version (item_cf {version}: " in fitted[0].note
    assert "does not match its checksum" in fitted[0].note
    assert "replaced damaged versions of item_cf" in summary(fitted)
    assert fit.store.load("item_cf", fit.store.current_version("item_cf")).files
    assert fit.execute() == []


def test_a_two_tower_file_edited_in_place_leaves_new_hosts_a_version_and_the_trainer_a_fix(
    tmp_path,
):
    """The reported outage: a reindex shared item_ids.json with the version before, one edit
    broke both, and every new host fell back to popularity while the trainer saw nothing."""
    from adapters.demo_data import demo_data
    from adapters.two_tower.recommender import TwoTowerRecommender
    from adapters.two_tower.trainer import TwoTowerTrainer
    from application.strategies import StrategyRegistry
    from application.use_cases.rebuild_index import RebuildIndex
    from application.use_cases.train_two_tower import TrainTwoTower
    from tests.unit.test_two_tower import FAST

    demo = demo_data(seed=1, learners=60)
    memory = InMemoryStore()
    uow = lambda: InMemoryUnitOfWork(memory)  # noqa: E731
    UpsertCourses(uow).execute(demo.courses)
    LogInteractions(uow).execute(demo.interactions)
    store = FilesystemArtifactStore(tmp_path / "models")
    trainer = TwoTowerTrainer(FAST)
    fit = FitStrategies(
        uow,
        {},
        store,
        train_two_tower=lambda: TrainTwoTower(uow, trainer, store),
        rebuild_index=lambda: RebuildIndex(uow, trainer, store),
    )
    fit.execute()
    before = store.current_version("two_tower")
    damaged = RebuildIndex(uow, trainer, store).execute(reencode=False).version
    ids = store.root / "two_tower" / "versions" / damaged / "item_ids.json"
    ids.write_text(ids.read_text().replace("course", "coursx", 1))  # in place, same size

    def new_host():  # type: ignore[no-untyped-def]
        registry = StrategyRegistry({"two_tower": TwoTowerRecommender}, uow, store, 0)
        return registry.snapshot()

    assert new_host().loaded["two_tower"].version == before  # the version before still serves
    fitted = fit.execute()
    assert [f.strategy for f in fitted] == ["two_tower"]
    assert "item_ids.json does not match its checksum" in fitted[0].note
    repaired = store.current_version("two_tower")
    assert repaired not in (before, damaged)
    snapshot = new_host()
    assert snapshot.loaded["two_tower"].version == repaired and "two_tower" in snapshot.recommenders


def test_a_full_disk_when_the_settings_search_publishes_fails_it_alone_and_training_goes_on(
    fit, monkeypatch
):
    """The search ran its budget; its publish refused like any other is one note, not a cycle
    that fails with a traceback before two_tower is trained (and `trainer --once` with it)."""
    from types import SimpleNamespace

    import application.use_cases.fit_strategies as fitting
    from domain.errors import StrategyUnavailable

    chosen = SimpleNamespace(settings={}, trials=[], as_dict=lambda: {"settings": {}})
    monkeypatch.setattr(fitting, "tune", lambda *args, **kwargs: chosen)
    trained = []

    class Training:
        def execute(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            trained.append(True)
            raise StrategyUnavailable("stands in for a training")

    fit.train_two_tower, fit.tuning_factories, fit.tuning_budget = Training, {"x": object}, 1.0
    publish = fit.store.publish

    def disk_full_for_tuning(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == "tuning":
            raise OSError(28, "No space left on device")
        return publish(name, *args, **kwargs)

    monkeypatch.setattr(fit.store, "publish", disk_full_for_tuning)
    fitted = {f.strategy: f for f in fit.execute()}
    assert fitted["tuning"].failed and "No space left on device" in fitted["tuning"].note
    assert trained == [True]
    assert fit.store.current_version("tuning") is None


def test_a_version_that_failed_to_load_is_tried_again_later(fit):
    """A shared volume may show a version's `current` pointer before its files are whole (or a
    network file system fail one read): the worker answered from the version before it until the
    next publish, hours later for two_tower. It tries again after 30 s, then twice as long."""
    from application.strategies import StrategyRegistry

    now = [0.0]
    registry = StrategyRegistry(
        fit.factories, fit.uow_factory, fit.store, refresh_seconds=0, clock=lambda: now[0]
    )
    first = registry.snapshot().loaded["item_cf"].version
    fit.execute(force=True)
    newer = fit.store.current_version("item_cf")
    folder = fit.store.root / "item_cf" / "versions" / newer
    damaged = next(p for p in sorted(folder.iterdir()) if p.name != "manifest.json")
    whole = damaged.read_bytes()
    damaged.write_bytes(whole + b"not yet")
    snapshot = registry.snapshot()
    assert snapshot.loaded["item_cf"].version == first and "item_cf" in snapshot.errors
    damaged.write_bytes(whole)  # the copy is whole now
    now[0] = 29.0
    assert registry.snapshot().loaded["item_cf"].version == first  # not before its time
    now[0] = 31.0
    snapshot = registry.snapshot()
    assert snapshot.loaded["item_cf"].version == newer and not snapshot.errors


def test_a_store_that_cannot_be_read_meanwhile_rejects_no_version(fit):
    """With the models in the database, an outage while a worker loads a new version is the
    store's, not the version's: it was logged as rejected, shown as an error of the strategy
    (the admin view, /readyz), the version before it loaded in its place and the new one tried
    again only 30 s later. Now the check fails whole (the worker keeps its snapshot) and the next
    one loads the new version."""
    from application.ports import StorageUnavailable
    from application.strategies import StrategyRegistry

    registry = StrategyRegistry(fit.factories, fit.uow_factory, fit.store, refresh_seconds=0)
    assert registry.snapshot().loaded["item_cf"].version
    fit.execute(force=True)
    newer = fit.store.current_version("item_cf")
    load, down = fit.store.load, [True]

    def blip(name, version, only=None):  # type: ignore[no-untyped-def]
        if version == newer and down.pop() if down else False:
            raise StorageUnavailable("the database is unreachable")
        return load(name, version, only)

    fit.store.load = blip
    with pytest.raises(StorageUnavailable):
        registry.snapshot()
    snapshot = registry.snapshot()
    assert snapshot.loaded["item_cf"].version == newer and not snapshot.errors
