"""An operator lists the model versions kept, rolls a strategy back to one, holds it against the
trainer's refits, and releases it: through the CLI, seen by web workers and the trainer."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from adapters.item_cf import ItemCFRecommender
from domain.model import LearnerHistory, UserId
from entrypoints.cli import cli
from tests.conftest import CATALOG, event
from tests.e2e.conftest import make_app

FIRST = [
    event("u1", "course_python_basic", "enroll"),
    event("u1", "course_sql_basic", "complete"),
    event("u2", "course_python_basic", "enroll"),
    event("u2", "course_sql_basic", "enroll"),
]
LATER = [
    event("u3", "course_python_basic", "enroll"),
    event("u3", "course_ml_basic", "complete"),
    event("u4", "course_python_basic", "complete"),
    event("u4", "course_ml_basic", "enroll"),
    event("u5", "course_python_basic", "enroll"),
    event("u5", "course_ml_basic", "enroll"),
]


@pytest.fixture
def service(sqlite_url, tmp_path):  # type: ignore[no-untyped-def]
    """A web app, and `run(*args)` for the CLI on the same database and artifact directory."""
    app = make_app(sqlite_url, caught_up=False, models_dir=str(tmp_path / "models"))
    container = app.container
    container.fit_strategies.add_kwargs(train_two_tower=None)  # no torch training in these tests
    container.upsert_courses().execute(CATALOG)

    def run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(cli, list(args), obj=container, catch_exceptions=False)

    yield app, run
    container.engine().dispose()


def fitted_twice(app, run):  # type: ignore[no-untyped-def]
    """item_cf fitted on FIRST, then on FIRST + LATER: (the older version, the newer)."""
    app.container.log_interactions().execute(FIRST)
    assert run("trainer", "--once").exit_code == 0
    store = app.container.artifact_store()
    older = store.current_version("item_cf")
    app.container.log_interactions().execute(LATER)
    assert run("trainer", "--once").exit_code == 0
    return older, store.current_version("item_cf")


def _restored(store, version: str) -> ItemCFRecommender:  # type: ignore[no-untyped-def]
    """item_cf as `version` of it answers."""
    recommender = ItemCFRecommender()
    artifact = store.load("item_cf", version)
    recommender.restore(artifact.files, artifact.manifest, {c.course_id: c for c in CATALOG})
    return recommender


def _answers(recommender) -> list[str]:  # type: ignore[no-untyped-def]
    """What it recommends to a learner who enrolled in Python basics."""
    learner = LearnerHistory(UserId("u9"), (event("u9", "course_python_basic", "enroll"),))
    return [r.course_id for r in recommender.recommend(learner, 5, learner.taken())]


def test_the_list_shows_every_kept_version_newest_first_and_marks_the_current_one(service):
    app, run = service
    older, newer = fitted_twice(app, run)
    listed = run("model-versions", "item_cf")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0] == f"item_cf (current {newer}):"
    assert lines[1].startswith(f"  * {newer}  trained 20") and "data " in lines[1]
    assert lines[2].startswith(f"    {older}  trained 20")
    documented = json.loads(run("model-versions", "--json").output)
    assert [s["strategy"] for s in documented] == [
        "content",
        "item_cf",
        "popularity",
        "sequence",
        "two_tower",
    ]
    item_cf = documented[1]
    assert [(v["version"], v["current"]) for v in item_cf["versions"]] == [
        (newer, True),
        (older, False),
    ]
    assert item_cf["versions"][0]["data_version"] != item_cf["versions"][1]["data_version"]


def test_an_unknown_strategy_is_a_one_line_error(service):
    _, run = service
    for args in (("model-versions", "item_cf", "nope"), ("rollback", "nope")):
        result = run(*args)
        assert result.exit_code == 1 and result.output.count("\n") == 1
        assert result.output.startswith("Error: unknown strategy 'nope'; valid strategies: ")


def test_a_rolled_back_strategy_answers_from_the_old_model_in_a_fresh_web_worker(service, tmp_path):
    app, run = service
    older, newer = fitted_twice(app, run)
    store = app.container.artifact_store()
    old_trained_at = store.load("item_cf", older, only=()).trained_at
    rolled = run("rollback", "item_cf")
    assert rolled.exit_code == 0, rolled.output
    assert f"rolled item_cf back to {older}" in rolled.output
    restored = store.current_version("item_cf")
    assert restored not in (older, newer) and restored > newer  # a publish, never a step back

    worker = make_app(
        app.container.config.database_url(), caught_up=False, models_dir=str(tmp_path / "models")
    )
    shown = worker.test_client().get("/admin/recommendations/models").json
    item_cf = next(m for m in shown["models"] if m["strategy"] == "item_cf")
    assert item_cf["version"] == restored and item_cf["trained_at"] == old_trained_at
    assert item_cf["held"] is True and item_cf["restores"] == older
    others = [m for m in shown["models"] if m["strategy"] != "item_cf" and "held" in m]
    assert others and not any(m["held"] for m in others)
    answering = worker.container.strategies().snapshot().recommenders["item_cf"]
    assert _answers(answering) == _answers(_restored(store, older))
    assert _answers(answering) != _answers(_restored(store, newer))
    home = worker.test_client().get("/api/v1/recommendations/home?user_id=u1&strategy=hybrid")
    assert home.status_code == 200
    worker.container.engine().dispose()
    listed = run("model-versions", "item_cf").output
    assert f"* {restored}" in listed and f"held, restores {older}" in listed


def test_the_trainer_leaves_a_held_strategy_alone_until_it_is_released(service):
    app, run = service
    older, _ = fitted_twice(app, run)
    store = app.container.artifact_store()
    assert run("rollback", "item_cf", "--to", older).exit_code == 0
    held = store.current_version("item_cf")
    popularity = store.current_version("popularity")
    app.container.log_interactions().execute([event("u6", "course_ml_basic", "enroll")])
    cycle = run("trainer", "--once")
    assert cycle.exit_code == 0, cycle.output
    assert (
        f"item_cf: held by a rollback to {older}; `recsys rollback item_cf --release` lets the "
        "trainer fit it again"
    ) in cycle.output
    assert store.current_version("item_cf") == held
    assert store.current_version("popularity") != popularity  # the others follow the data

    assert run("trainer", "--once", "--force").exit_code == 0
    assert store.current_version("item_cf") == held  # --force does not undo an operator's hold

    released = run("rollback", "item_cf", "--release")
    assert released.exit_code == 0 and "released item_cf" in released.output
    cycle = run("trainer", "--once")
    assert "item_cf: published" in cycle.output
    refitted = store.load("item_cf", store.current_version("item_cf"), only=()).manifest
    assert not refitted.get("held") and not refitted.get("restores")
    again = run("rollback", "item_cf", "--release")
    assert again.exit_code == 1 and "is not held; nothing to release" in again.output


def test_an_erasure_ends_a_hold_and_no_rollback_brings_an_erased_learner_back(service, monkeypatch):
    """A held model fitted before a learner was erased still holds them: the trainer fits it
    again (the erasure promise wins over the hold), a rollback to a version fitted before the
    erasure is refused, and the trainer removes such versions."""
    import application.use_cases.fit_strategies
    from domain.model import UserId

    # the trainer's cycles here follow one another at once; a version replaced is kept for a
    # while after its successor is published (tests/unit/test_publishing.py), here for none
    monkeypatch.setattr(application.use_cases.fit_strategies, "REPLACED_KEPT_SECONDS", 0)
    app, run = service
    older, newer = fitted_twice(app, run)
    store = app.container.artifact_store()
    assert run("rollback", "item_cf", "--to", older).exit_code == 0
    held = store.current_version("item_cf")
    app.container.erase_learner().execute(UserId("u1"))
    cycle = run("trainer", "--once")
    assert cycle.exit_code == 0 and "item_cf: published" in cycle.output, cycle.output
    refitted = store.load("item_cf", store.current_version("item_cf"), only=()).manifest
    assert store.current_version("item_cf") != held and not refitted.get("held")
    # the version the refit replaced is kept until the next cycle, and never restored
    refused = run("rollback", "item_cf", "--to", held)
    assert refused.exit_code == 1
    assert "was fitted before a learner was erased" in refused.output
    assert refused.output.count("\n") == 1
    # the other versions fitted before the erasure are gone already, and so is it next cycle
    assert set(store.versions("item_cf")) == {held, store.current_version("item_cf")}
    assert older not in store.versions("item_cf") and newer not in store.versions("item_cf")
    assert run("trainer", "--once").exit_code == 0
    assert store.versions("item_cf") == [store.current_version("item_cf")]


def test_a_version_of_an_erased_learner_that_cannot_be_removed_is_said_not_said_removed(
    service, monkeypatch, caplog
):
    """Its files left in place (a read-only share, a file held open on another host) were
    logged as removed at every cycle, and the learner stayed in them unnoticed."""
    import adapters.fs_artifacts
    import application.use_cases.fit_strategies
    from domain.model import UserId

    monkeypatch.setattr(application.use_cases.fit_strategies, "REPLACED_KEPT_SECONDS", 0)
    app, run = service
    older, _ = fitted_twice(app, run)
    app.container.erase_learner().execute(UserId("u1"))

    def refused(path):  # type: ignore[no-untyped-def]
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(adapters.fs_artifacts.shutil, "rmtree", refused)
    with caplog.at_level("INFO"):
        assert run("trainer", "--once").exit_code == 0
    store = app.container.artifact_store()
    assert older in store.versions("item_cf")
    said = [r for r in caplog.records if older in r.getMessage() and "erased" in r.getMessage()]
    assert said and all("could not be removed" in r.getMessage() for r in said), said
    assert all(r.levelname == "WARNING" for r in said)


def test_rolling_back_to_an_unknown_version_or_with_nothing_older_is_a_one_line_error(service):
    app, run = service
    app.container.log_interactions().execute(FIRST)
    assert run("trainer", "--once").exit_code == 0
    current = app.container.artifact_store().current_version("item_cf")
    nothing = run("rollback", "item_cf")
    assert nothing.exit_code == 1
    assert nothing.output == f"Error: no item_cf version older than {current} is kept\n"
    unknown = run("rollback", "item_cf", "--to", "20200101T000000000000Z-abcdef")
    assert unknown.exit_code == 1 and unknown.output.count("\n") == 1
    assert unknown.output.startswith(
        f"Error: item_cf has no version 20200101T000000000000Z-abcdef; kept: {current}"
    )
    assert app.container.artifact_store().current_version("item_cf") == current


def test_a_damaged_old_version_is_refused_and_nothing_is_published(service, tmp_path):
    app, run = service
    older, newer = fitted_twice(app, run)
    folder = tmp_path / "models" / "item_cf" / "versions" / older
    damaged = next(p for p in folder.iterdir() if p.name != "manifest.json")
    damaged.write_bytes(bytes(damaged.stat().st_size))  # in place, at its size
    named = run("rollback", "item_cf", "--to", older)
    assert named.exit_code == 1 and named.output.count("\n") == 1
    assert named.output == (
        f"Error: item_cf {older}: {damaged.name} does not match its checksum; "
        "nothing was rolled back\n"
    )
    chosen = run("rollback", "item_cf")
    assert chosen.exit_code == 1 and "no older item_cf version is whole" in chosen.output
    assert app.container.artifact_store().current_version("item_cf") == newer


def test_a_rollback_after_a_release_goes_back_from_the_model_answering_not_to_it(service):
    """Rolled back to the older fit, then released: the model answering is still the older
    fit's. Going back again chose the held copy of it, a rollback to the model answering."""
    app, run = service
    older, newer = fitted_twice(app, run)
    assert run("rollback", "item_cf", "--to", older).exit_code == 0
    assert run("rollback", "item_cf", "--release").exit_code == 0
    again = run("rollback", "item_cf")
    assert again.exit_code == 1
    assert again.output == f"Error: no item_cf version older than {older} is kept\n"


@pytest.mark.parametrize("damage", ["missing", "garbled"])
def test_with_its_current_pointer_lost_a_kept_version_can_still_be_restored(
    service, tmp_path, damage
):
    """Workers answer as if nothing were published when `current` is gone or unreadable; the
    operator's way back is a rollback to a version still kept, named or the newest whole one."""
    app, run = service
    older, newer = fitted_twice(app, run)
    store = app.container.artifact_store()
    pointer = tmp_path / "models" / "item_cf" / "current"
    pointer.unlink()
    if damage == "garbled":
        pointer.write_bytes(b"\xff\xfe")
    assert store.current_version("item_cf") is None
    named = run("rollback", "item_cf", "--to", older)
    assert named.exit_code == 0, named.output
    assert "(replacing a missing or damaged current pointer)" in named.output
    assert _answers(_restored(store, store.current_version("item_cf"))) == _answers(
        _restored(store, older)
    )
    pointer.unlink()
    chosen = run("rollback", "item_cf")
    assert chosen.exit_code == 0, chosen.output
    assert f"rolled item_cf back to {older}" in chosen.output  # the newest kept: the copy of it


def test_an_ensembles_epochs_are_listed_per_member_and_its_counts_as_integers(service):
    """A version as trainers published it before: its members' epochs summed (125 for three
    members stopped early at 48, 28 and 49 of 100 allowed), its counts saved as floats."""
    app, run = service
    app.container.artifact_store().publish(
        "two_tower",
        {"model.pt": b"weights"},
        {
            "metrics": {"validation_recall@10": 0.6733, "epochs_run": 125.0, "members": 3.0},
            "member_epochs": [48, 28, 49],
            "training": {"objective": "all", "epochs": 100},
            "tower": {"members": 3},
        },
    )
    listed = run("model-versions", "two_tower")
    assert listed.exit_code == 0, listed.output
    said = listed.output.splitlines()[1].strip().split("  ")
    assert {"epochs_run 49", "member_epochs 48/28/49", "members 3"} <= set(said), said
    assert "validation_recall@10 0.6733" in said
    (documented,) = json.loads(run("model-versions", "two_tower", "--json").output)
    figures = documented["versions"][0]["metrics"]
    assert figures["member_epochs"] == [48, 28, 49]
    assert (figures["epochs_run"], figures["members"]) == (49, 3)
    assert type(figures["epochs_run"]) is int and type(figures["members"]) is int


def test_each_version_says_the_settings_it_was_fitted_with_so_an_operator_can_choose(service):
    app, run = service
    app.container.log_interactions().execute(FIRST)
    pins = app.container.config.tuning_pins
    pins.from_value({"item_cf": {"regularization": 250.0}, "sequence": {"recency_decay": 0.7}})
    assert run("trainer", "--once").exit_code == 0
    pins.from_value({"item_cf": {"regularization": 42.0}})  # refits both, as their pins changed
    assert run("trainer", "--once").exit_code == 0
    lines = run("model-versions", "item_cf", "sequence").output.splitlines()
    said = [line.strip().split("  ") for line in lines]
    assert "kind=ease proximity_weight=0 recency_decay=1 regularization=42" in said[1]
    assert "kind=ease proximity_weight=0 recency_decay=1 regularization=250" in said[2]
    assert "kind=transitions recency_decay=0.5" in said[4]
    assert "kind=transitions recency_decay=0.7" in said[5]
    documented = json.loads(run("model-versions", "item_cf", "--json").output)
    assert [v["fitted_with"]["regularization"] for v in documented[0]["versions"]] == [42, 250]


def test_after_a_rollback_the_admin_view_shows_the_restored_versions_settings(service, tmp_path):
    """Before, it showed regularization 42 from the web host's RS_ITEM_CF_REGULARIZATION for a
    rollback to a version fitted with λ=250."""
    app, run = service
    app.container.log_interactions().execute(FIRST)
    pins = app.container.config.tuning_pins
    pins.from_value({"item_cf": {"regularization": 250.0}})
    assert run("trainer", "--once").exit_code == 0
    older = app.container.artifact_store().current_version("item_cf")
    pins.from_value({"item_cf": {"regularization": 42.0}})
    assert run("trainer", "--once").exit_code == 0
    assert run("rollback", "item_cf", "--to", older).exit_code == 0
    worker = make_app(
        app.container.config.database_url(),
        caught_up=False,
        models_dir=str(tmp_path / "models"),
        tuning_pins={"item_cf": {"regularization": 42.0}},
    )
    shown = worker.test_client().get("/admin/recommendations/models").json["models"]
    item_cf = next(m for m in shown if m["strategy"] == "item_cf")
    assert (item_cf["held"], item_cf["restores"]) == (True, older)
    assert item_cf["fitted_with"]["regularization"] == 250.0
    assert item_cf["pinned_on_this_host"] == {"regularization": 42.0}
    worker.container.engine().dispose()


def test_a_damaged_rollback_falls_back_to_what_it_restores_not_to_what_it_replaced(
    service, tmp_path
):
    """A fresh worker that cannot load the held copy answers from the version the operator
    rolled back to (or older), never from the one they rolled back from."""
    app, run = service
    older, newer = fitted_twice(app, run)
    assert run("rollback", "item_cf", "--to", older).exit_code == 0
    store = app.container.artifact_store()
    held = store.current_version("item_cf")
    versions = tmp_path / "models" / "item_cf" / "versions"
    damaged = next(
        p
        for p in (versions / held).iterdir()
        if p.name != "manifest.json"
        and p.stat().st_ino != (versions / older / p.name).stat().st_ino
    )
    data = bytearray(damaged.read_bytes())
    data[0] ^= 0xFF
    damaged.write_bytes(bytes(data))
    worker = make_app(
        app.container.config.database_url(), caught_up=False, models_dir=str(tmp_path / "models")
    )
    snapshot = worker.container.strategies().snapshot()
    assert f"item_cf version {held} rejected" in snapshot.errors["item_cf"]
    assert _answers(snapshot.recommenders["item_cf"]) == _answers(_restored(store, older))
    restored = store.load("item_cf", older, only=())
    assert snapshot.loaded["item_cf"].trained_at == restored.trained_at
    worker.container.engine().dispose()


def test_a_manual_two_tower_training_keeps_a_held_rollback_and_says_how_to_release(service):
    app, run = service
    store = app.container.artifact_store()
    first = store.publish("two_tower", {"model.pt": b"1"}, {"trained_at": "2026-11-01T00:00:00"})
    held = store.publish("two_tower", {"model.pt": b"1"}, {"restores": first, "held": True})
    app.container.log_interactions().execute(FIRST)

    refused = run("train-two-tower", "--epochs", "1")

    assert refused.exit_code == 1
    assert f"two_tower is held by a rollback to {first}" in refused.output
    assert "recsys rollback two_tower --release" in refused.output
    assert store.current_version("two_tower") == held


def test_a_manual_two_tower_training_on_an_unwritable_models_dir_stops_before_training(
    sqlite_url, tmp_path
):
    not_a_folder = tmp_path / "models"
    not_a_folder.write_text("")
    app = make_app(sqlite_url, caught_up=False, models_dir=str(not_a_folder))
    app.container.upsert_courses().execute(CATALOG)
    app.container.log_interactions().execute(FIRST)

    result = CliRunner().invoke(cli, ["train-two-tower", "--epochs", "1"], obj=app.container)

    assert result.exit_code == 1
    assert "is not writable" in result.output and "nothing was trained" in result.output
    assert "training two_tower" not in result.output
    app.container.engine().dispose()


def test_a_rollback_its_release_and_a_reindex_leave_the_models_to_go_back_to(sqlite_url, tmp_path):
    """Each of the three publishes the model rolled back to again: they counted against
    RS_KEEP_VERSIONS (3) as versions, and pushed out the model rolled back from and the one
    before, so the next `recsys rollback` found nothing older to go back to."""
    from tests.unit.test_two_tower import FAST

    app = make_app(sqlite_url, caught_up=False, models_dir=str(tmp_path / "models"), two_tower=FAST)
    app.container.upsert_courses().execute(CATALOG)
    trained = []
    for events in (FIRST, LATER[:3], LATER[3:]):
        app.container.log_interactions().execute(events)
        trained.append(app.container.train_two_tower().execute().version)
    earliest, rolled_to, rolled_from = trained

    def run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(cli, list(args), obj=app.container, catch_exceptions=False)

    rolled = run("rollback", "two_tower")
    assert rolled.exit_code == 0 and f"rolled two_tower back to {rolled_to}" in rolled.output
    assert run("rollback", "two_tower", "--release").exit_code == 0
    assert run("rebuild-index").exit_code == 0

    listed = run("model-versions", "two_tower").output
    assert rolled_from in listed and earliest in listed
    again = run("rollback", "two_tower")
    assert again.exit_code == 0, again.output
    assert f"rolled two_tower back to {earliest}" in again.output
    assert run("rollback", "two_tower", "--to", rolled_from).exit_code == 0
    app.container.engine().dispose()
