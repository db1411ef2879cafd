"""Training and reindexing at once: the newest training is never undone by an older rebuild."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from adapters.fs_artifacts import FilesystemArtifactStore
from adapters.in_memory import InMemoryStore, InMemoryUnitOfWork
from application.ports import ModelTrainer, StaleBase
from application.use_cases.erase_learner import EraseLearner
from application.use_cases.fit_strategies import FitStrategies
from application.use_cases.log_interactions import LogInteractions
from application.use_cases.rebuild_index import RebuildIndex
from application.use_cases.train_two_tower import TrainTwoTower
from application.use_cases.upsert_courses import UpsertCourses
from domain.model import UserId
from tests.conftest import CATALOG, event


class SlowTrainer(ModelTrainer):
    """Trains instantly; its first reindex waits until the test lets it go on."""

    artifact_name = "two_tower"

    def __init__(self) -> None:
        self.reindexing = threading.Event()
        self.proceed = threading.Event()

    def train(self, courses, histories, progress=None):  # type: ignore[no-untyped-def]
        return {"model": uuid.uuid4().bytes}, {}

    def with_settings(self, settings):  # type: ignore[no-untyped-def]
        return self

    def reindex(self, artifact, courses, reencode):  # type: ignore[no-untyped-def]
        self.reindexing.set()
        assert self.proceed.wait(10)
        return {"model": artifact.files["model"], "index": b"i"}, {
            "reindexed_from": artifact.version
        }


@pytest.fixture
def setup(tmp_path):  # type: ignore[no-untyped-def]
    memory = InMemoryStore()
    uow = lambda: InMemoryUnitOfWork(memory)  # noqa: E731
    UpsertCourses(uow).execute(CATALOG)
    LogInteractions(uow).execute([event("u1", "course_sql_basic", "enroll")])
    return uow, SlowTrainer(), FilesystemArtifactStore(tmp_path, keep=10)


def test_a_reindex_started_before_a_training_rebuilds_the_new_model_not_the_old(setup):
    uow, trainer, store = setup
    old = TrainTwoTower(uow, trainer, store).execute().version
    rebuilt = {}
    rebuilding = threading.Thread(
        target=lambda: rebuilt.update(result=RebuildIndex(uow, trainer, store).execute())
    )
    rebuilding.start()
    assert trainer.reindexing.wait(10)  # the rebuild has read the old model...
    new = TrainTwoTower(uow, trainer, store).execute().version  # ...when a training lands
    trainer.proceed.set()
    rebuilding.join()
    current = store.load("two_tower", store.current_version("two_tower"))
    assert rebuilt["result"].previous == new != old
    assert current.manifest["reindexed_from"] == new
    assert current.files["model"] == store.load("two_tower", new).files["model"]


def test_a_training_overtaken_by_a_newer_one_is_refused_with_a_clear_message(setup):
    uow, _, store = setup

    class Overtaken(SlowTrainer):
        def train(self, courses, histories, progress=None):  # type: ignore[no-untyped-def]
            store.publish("two_tower", {"model": b"newer"}, {})  # another trainer finished first
            return {"model": b"older"}, {}

    with pytest.raises(StaleBase, match="nothing was replaced"):
        TrainTwoTower(uow, Overtaken(), store).execute()
    assert store.load("two_tower", store.current_version("two_tower")).files["model"] == b"newer"


def test_a_rebuilt_index_does_not_pass_for_a_model_trained_after_an_erasure(setup):
    uow, trainer, store = setup
    trainer.proceed.set()
    trained = TrainTwoTower(uow, trainer, store).execute().version
    EraseLearner(uow).execute(UserId("u1"))
    rebuilt = RebuildIndex(uow, trainer, store).execute().version  # e.g. a catalog change
    fit = FitStrategies(uow, {}, store, train_two_tower=lambda: TrainTwoTower(uow, trainer, store))
    current = store.load("two_tower", rebuilt, only=())
    assert current.trained_at == store.load("two_tower", trained, only=()).trained_at
    assert fit.plan()[2] == "train"  # the erased learner must leave the model itself


def test_erasing_a_learner_never_seen_does_not_retrain_the_model(setup):
    uow, trainer, store = setup
    TrainTwoTower(uow, trainer, store).execute()
    fit = FitStrategies(uow, {}, store, train_two_tower=lambda: TrainTwoTower(uow, trainer, store))
    EraseLearner(uow).execute(UserId("nobody"))
    assert fit.plan()[2] == ""  # on record, but no model held them
    EraseLearner(uow).execute(UserId("u1"))
    assert fit.plan()[2] == "train"


def erased_after_two_versions(setup):  # type: ignore[no-untyped-def]
    """Two two_tower versions published, both knowing u1, then u1 erased: the trainer, and
    each version's id."""
    uow, trainer, store = setup
    trainer.proceed.set()
    LogInteractions(uow).execute([event("u2", "course_ml_basic", "enroll")])
    train = lambda: TrainTwoTower(uow, trainer, store)  # noqa: E731
    kept = [train().execute().version for _ in range(2)]
    EraseLearner(uow).execute(UserId("u1"))
    return train, kept


def test_versions_kept_for_rollback_lose_an_erased_learner_once_the_model_is_refitted(setup):
    uow, _, store = setup
    train, kept = erased_after_two_versions(setup)
    now = [datetime.now(UTC)]
    fit = FitStrategies(uow, {}, store, train_two_tower=train, clock=lambda: now[0])
    fit.execute()  # refits without u1; each version replaced a moment ago stays, as workers
    current = store.current_version("two_tower")  # may be loading it
    assert store.versions("two_tower") == [current, *reversed(kept)]
    fit.execute()  # the next cycle, seconds later (the last one ran long)
    assert store.versions("two_tower") == [current, kept[-1]]
    a_minute_ago(store, "two_tower")
    fit.execute()
    # a rollback could not restore them (they hold u1), and no file of them may keep u1
    assert store.versions("two_tower") == [current] and current not in kept


def a_minute_ago(store: FilesystemArtifactStore, name: str) -> None:
    """As if `current` had been published a minute ago (the store's clock says when)."""
    pointer = store.root / name / "current"
    then = pointer.stat().st_mtime - 61
    os.utime(pointer, (then, then))


@pytest.mark.parametrize("skew", [timedelta(minutes=10), -timedelta(days=1)])
def test_a_replaced_version_holding_an_erased_learner_stays_a_minute_whatever_the_clocks(
    setup, skew
):
    """created_at is the publishing host's clock: a trainer whose clock was ahead of it removed
    the version a publish had just replaced (a worker loading it fell back to popularity), and
    one whose clock was behind kept it, holding an erased learner, for as long as that."""
    uow, _, store = setup
    train, kept = erased_after_two_versions(setup)
    train().execute()  # published by another host without u1, just now
    current = store.current_version("two_tower")
    fit = FitStrategies(
        uow, {}, store, train_two_tower=train, clock=lambda: datetime.now(UTC) + skew
    )
    fit.execute()
    assert store.versions("two_tower") == [current, kept[-1]]
    a_minute_ago(store, "two_tower")
    fit.execute()
    assert store.versions("two_tower") == [current]
