"""A published version whose files match their checksums but cannot be loaded (a pickle torch
refuses, ids of the wrong type) is that version rejected: the one before it answers, on a server
running and on one starting, and the CLI says so in one line."""

from __future__ import annotations

import fractions
import io
import json
import shutil

import pytest
from click.testing import CliRunner

from entrypoints.cli import cli
from tests.e2e.conftest import demo_service, make_app

HOME = "/api/v1/recommendations/home?user_id=user1&strategy=two_tower&k=3"
SIMILAR = "/api/v1/recommendations/similar/course_python_basic?strategy=two_tower"


def _pickled(files: dict[str, bytes]) -> dict[str, bytes]:
    """model.pt pickling an object torch's weights-only loader refuses, and no numpy tower, so
    that a worker reads model.pt."""
    import torch

    files = {k: v for k, v in files.items() if k != "learner_tower.npz"}
    saved = io.BytesIO()
    torch.save({"weights": fractions.Fraction(1, 3)}, saved)
    files["model.pt"] = saved.getvalue()
    return files


def _odd_ids(files: dict[str, bytes]) -> dict[str, bytes]:
    count = len(json.loads(files["item_ids.json"])["course_ids"])
    return {**files, "item_ids.json": json.dumps({"course_ids": [{"x": 1}] * count}).encode()}


def _tower_of_another_shape(files: dict[str, bytes]) -> dict[str, bytes]:
    """The numpy learner tower with its first history table cut to one row: it loaded, and
    every request it answered (two_tower, the hybrid by default, auto) was a 500."""
    import numpy as np

    with np.load(io.BytesIO(files["learner_tower.npz"]), allow_pickle=False) as arrays:
        tables = {name: arrays[name] for name in arrays.files}
    tables["m0.history"] = tables["m0.history"][:1]
    saved = io.BytesIO()
    np.savez(saved, **tables)
    return {**files, "learner_tower.npz": saved.getvalue()}


CRAFTED = {"pickle": _pickled, "ids": _odd_ids, "tower": _tower_of_another_shape}


@pytest.fixture
def trained(sqlite_url, tmp_path):  # type: ignore[no-untyped-def]
    models = str(tmp_path / "models")
    app, good = demo_service(sqlite_url, models, learners=60)
    yield app, good, models
    app.container.engine().dispose()


def publish_crafted(app, kind: str) -> str:  # type: ignore[no-untyped-def]
    """A new current two_tower version whose files have valid checksums but cannot be loaded."""
    store = app.container.artifact_store()
    artifact = store.load("two_tower", store.current_version("two_tower"))
    manifest = {
        k: v for k, v in artifact.manifest.items() if k not in ("files", "version", "created_at")
    }
    return str(store.publish("two_tower", CRAFTED[kind](dict(artifact.files)), manifest))


@pytest.mark.parametrize("kind", sorted(CRAFTED))
def test_a_server_starting_on_an_unloadable_version_answers_from_the_one_before(trained, kind):
    app, good, models = trained
    bad = publish_crafted(app, kind)
    fresh = make_app(app.container.config.database_url(), caught_up=False, models_dir=models)
    client = fresh.test_client()
    home = client.get(HOME)
    assert home.status_code == 200 and home.json["model_version"] == good
    assert client.get(SIMILAR).json["strategy"] == "two_tower"
    assert client.get("/readyz").status_code == 200
    shown = {m["strategy"]: m for m in client.get("/admin/recommendations/models").json["models"]}
    assert shown["two_tower"]["version"] == good
    assert shown["two_tower"]["errors"][0].startswith(f"two_tower version {bad} rejected: ")
    fresh.container.engine().dispose()


@pytest.mark.parametrize("kind", sorted(CRAFTED))
def test_a_running_server_keeps_answering_when_an_unloadable_version_is_published(trained, kind):
    app, good, _ = trained
    client = app.test_client()
    assert client.get(HOME).json["model_version"] == good
    bad = publish_crafted(app, kind)
    home = client.get(HOME)  # refresh_seconds 0: each request checks for new versions
    assert home.status_code == 200 and home.json["model_version"] == good
    shown = {m["strategy"]: m for m in client.get("/admin/recommendations/models").json["models"]}
    assert f"two_tower version {bad} rejected" in shown["two_tower"]["errors"][0]


def test_readiness_names_the_model_that_cannot_be_loaded_when_no_version_can(tmp_path, trained):
    app, good, models = trained
    bad = publish_crafted(app, "pickle")
    store = app.container.artifact_store()
    shutil.rmtree(store.root / "two_tower" / "versions" / good)
    fresh = make_app(app.container.config.database_url(), caught_up=False, models_dir=models)
    ready = fresh.test_client().get("/readyz")
    assert ready.status_code == 503
    message = ready.json["error"]["message"]
    assert message.startswith(f"two_tower version {bad} rejected: UnpicklingError: ")
    assert "database" not in message
    fresh.container.engine().dispose()


@pytest.mark.parametrize("kind", sorted(CRAFTED))
@pytest.mark.parametrize("command", ["rebuild-index", "export-embeddings"])
def test_rebuilding_from_an_unloadable_version_is_a_one_line_error(
    trained, kind, command, monkeypatch
):
    app, _, models = trained
    bad = publish_crafted(app, kind)
    monkeypatch.setenv("RS_DATABASE_URL", app.container.config.database_url())
    monkeypatch.setenv("RS_MODELS_DIR", models)
    result = CliRunner().invoke(cli, [command], catch_exceptions=False)
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert result.output.startswith(f"Error: two_tower {bad} cannot be loaded (")
    assert "\x1b" not in result.output  # torch's bold, for a terminal
    assert result.output.endswith("`recsys rollback two_tower` goes back to the version before\n")


def test_the_trainer_reembedding_a_new_course_with_an_unloadable_version_says_so_in_a_line(
    trained, monkeypatch
):
    from tests.conftest import course

    app, _, models = trained
    bad = publish_crafted(app, "pickle")
    app.container.upsert_courses().execute([course("course_new", "A New Course")])
    monkeypatch.setenv("RS_DATABASE_URL", app.container.config.database_url())
    monkeypatch.setenv("RS_MODELS_DIR", models)
    result = CliRunner().invoke(cli, ["trainer", "--once"], catch_exceptions=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "two_tower: nothing published in " in result.output
    assert f"(failed: two_tower {bad} cannot be loaded (UnpicklingError: " in result.output
    assert result.output.endswith("Error: two_tower failed (see above)\n")


def _entries_past_the_matrix(strategy: str, prefix: str):  # type: ignore[no-untyped-def]
    """Each entry of a sparse matrix named a column past its last (checksums whole)."""

    def crafted(files: dict[str, bytes]) -> dict[str, bytes]:
        import numpy as np

        indices = np.load(io.BytesIO(files[f"{prefix}.indices.npy"]), allow_pickle=False)
        saved = io.BytesIO()
        np.save(saved, np.full_like(indices, 2**31 - 1), allow_pickle=False)
        return {**files, f"{prefix}.indices.npy": saved.getvalue()}

    return crafted


@pytest.mark.parametrize(("strategy", "prefix"), [("item_cf", "weights"), ("sequence", "weights")])
def test_a_version_whose_sparse_matrix_points_past_its_end_is_rejected_not_served(
    trained, strategy, prefix
):
    """scipy does not check such a matrix as it builds it: item_cf answered every learner 500,
    and a TF-IDF matrix of content so made brought every web worker down (SIGSEGV) as it
    loaded, again at each restart."""
    app, _, _ = trained
    client = app.test_client()
    url = f"/api/v1/recommendations/home?user_id=user1&strategy={strategy}&k=3"
    store = app.container.artifact_store()
    good = store.current_version(strategy)
    assert client.get(url).json["strategy"] == strategy
    artifact = store.load(strategy, good)
    manifest = {
        k: v for k, v in artifact.manifest.items() if k not in ("files", "version", "created_at")
    }
    crafted = _entries_past_the_matrix(strategy, prefix)(dict(artifact.files))
    bad = store.publish(strategy, crafted, manifest)
    home = client.get(url)
    assert home.status_code == 200 and home.json["strategy"] == strategy
    shown = {m["strategy"]: m for m in client.get("/admin/recommendations/models").json["models"]}
    assert shown[strategy]["version"] == good
    assert f"{strategy} version {bad} rejected" in shown[strategy]["errors"][0]


@pytest.mark.parametrize(
    "edit", [{"metrics": "recall 0.6"}, {"member_epochs": "14, 53, 35"}, {"metrics": [["a"]]}]
)
def test_a_manifest_edited_by_hand_leaves_the_models_view_and_the_dashboard_answering(
    trained, monkeypatch, edit
):
    """The manifest is no checksummed file: a figure a person rewrote as text made the models
    view and the dashboard a 500, where the model itself answered on."""
    app, good, models = trained
    manifest = app.container.artifact_store().root / "two_tower" / "versions" / good
    written = json.loads((manifest / "manifest.json").read_text())
    (manifest / "manifest.json").write_text(json.dumps({**written, **edit}))
    fresh = make_app(app.container.config.database_url(), caught_up=False, models_dir=models)
    client = fresh.test_client()
    assert client.get(HOME).json["model_version"] == good
    shown = client.get("/admin/recommendations/models")
    assert shown.status_code == 200
    assert client.get("/dashboard").status_code == 200
    monkeypatch.setenv("RS_DATABASE_URL", app.container.config.database_url())
    monkeypatch.setenv("RS_MODELS_DIR", models)
    listed = CliRunner().invoke(cli, ["model-versions", "two_tower"])
    assert listed.exit_code == 0 and good in listed.output, listed.output
    fresh.container.engine().dispose()


@pytest.mark.parametrize(
    ("strategy", "edit"), [("item_cf", {"model": "lambda 50"}), ("popularity", {"settings": ["x"]})]
)
def test_model_versions_lists_a_version_whose_settings_were_edited_by_hand(
    trained, monkeypatch, strategy, edit
):
    """`recsys model-versions` stopped with a traceback, listing nothing."""
    app, _, models = trained
    store = app.container.artifact_store()
    version = store.current_version(strategy)
    manifest = store.root / strategy / "versions" / version / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), **edit}))
    monkeypatch.setenv("RS_DATABASE_URL", app.container.config.database_url())
    monkeypatch.setenv("RS_MODELS_DIR", models)
    listed = CliRunner().invoke(cli, ["model-versions", strategy])
    assert listed.exit_code == 0 and version in listed.output, listed.output
