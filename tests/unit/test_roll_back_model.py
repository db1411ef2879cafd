"""RollBackModel chooses a version holding another model than the one answering."""

from __future__ import annotations

import pytest

from adapters.fs_artifacts import FilesystemArtifactStore
from application.use_cases.roll_back_model import RollBackModel, RollbackRefused


def _publish(store: FilesystemArtifactStore, weights: bytes, trained_at: str) -> str:
    return store.publish(
        "two_tower", {"model.pt": weights, "index": weights + b"+"}, {"trained_at": trained_at}
    )


def test_a_rollback_after_a_reindex_restores_the_model_before_not_the_same_one(tmp_path):
    store = FilesystemArtifactStore(tmp_path, keep=3)
    first = _publish(store, b"first", "2026-11-01T00:00:00+00:00")
    _publish(store, b"second", "2026-11-02T00:00:00+00:00")
    _publish(store, b"second", "2026-11-02T00:00:00+00:00")  # a reindex keeps its trained_at

    done = RollBackModel(store, ["two_tower"]).execute("two_tower")

    assert done.restores == first
    assert store.load("two_tower", done.version).files["model.pt"] == b"first"


def test_a_rollback_with_only_reindexes_of_the_model_answering_kept_is_refused(tmp_path):
    store = FilesystemArtifactStore(tmp_path, keep=3)
    _publish(store, b"only", "2026-11-02T00:00:00+00:00")
    reindexed = _publish(store, b"only", "2026-11-02T00:00:00+00:00")
    current = _publish(store, b"only", "2026-11-02T00:00:00+00:00")

    with pytest.raises(RollbackRefused, match="only index again the model answering now"):
        RollBackModel(store, ["two_tower"]).execute("two_tower")
    assert store.current_version("two_tower") == current
    # named, it is the operator's choice
    assert RollBackModel(store, ["two_tower"]).execute("two_tower", reindexed).restores == reindexed


def test_a_rollback_after_a_tuning_refit_restores_the_fit_before_it_from_the_same_read(tmp_path):
    """The trainer fits a stale strategy, then again with the settings a tuning chose in the
    same cycle: both from one read of the data, so with one trained_at, yet two models."""
    store = FilesystemArtifactStore(tmp_path, keep=3)
    read_at = "2026-11-02T00:00:00+00:00"

    def fit(weights: bytes, trained_at: str, settings: dict[str, int]) -> str:
        manifest = {"trained_at": trained_at, "settings": settings}
        return store.publish("item_cf", {"model.npz": weights}, manifest)

    fit(b"older", "2026-11-01T00:00:00+00:00", {"neighbours": 20})
    before_tuning = fit(b"before", read_at, {"neighbours": 20})
    fit(b"tuned", read_at, {"neighbours": 50})

    done = RollBackModel(store, ["item_cf"]).execute("item_cf")

    assert done.restores == before_tuning
    assert store.load("item_cf", done.version).files["model.npz"] == b"before"
