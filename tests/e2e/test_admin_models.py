"""What /admin/recommendations/models says of the models answering: the settings each was
fitted with, apart from what the last settings search chose and what is pinned, and training
figures an operator can read."""

from __future__ import annotations

import json

import pytest

from adapters.demo_data import demo_data
from tests.e2e.conftest import make_app
from tests.e2e.test_openapi import _response
from tests.unit.test_two_tower import FAST

MODELS = "/admin/recommendations/models"
TUNED_WEIGHTS = {
    "two_tower": 0.5,
    "popularity": 0.25,
    "content": 0.25,
    "item_cf": 0.25,
    "sequence": 0.5,
}
PINNED_WEIGHTS = {
    "two_tower": 1.0,
    "popularity": 0.0,
    "content": 0.1,
    "item_cf": 0.8,
    "sequence": 0.0,
}
#: the trainer's environment: RS_ITEM_CF_REGULARIZATION=42, RS_TWO_TOWER_OBJECTIVE=next, and
#: HYBRID_WEIGHTS_* (pinned after the search below chose other settings)
PINS = {
    "item_cf": {"regularization": 42.0},
    "two_tower": {"objective": "next"},
    "hybrid": {"weights": PINNED_WEIGHTS},
}
#: a search the trainer published before those pins were set
SEARCH = {
    "settings": {
        "popularity": {},
        "content": {},
        "item_cf": {"regularization": 250.0, "recency_decay": 0.3, "proximity_weight": 4.0},
        "sequence": {"recency_decay": 0.5},
        "two_tower": {"objective": "all", "members": 1},
        "hybrid": {"weights": TUNED_WEIGHTS},
    },
    "validation": {
        "popularity": {"ndcg@10": 0.0943},
        "content": {"ndcg@10": 0.3937},
        "item_cf": {"ndcg@10": 0.4796},
        "sequence": {"ndcg@10": 0.4793},
        "two_tower": {"ndcg@10": 0.3473},
        "hybrid": {"ndcg@10": 0.5142},
    },
    "pinned": {},
    "seconds": 16.4,
    "budget_seconds": 120.0,
    "budget_exhausted": False,
    "learners": 40,
    "trial_learners": 40,
}


def by_strategy(client) -> dict[str, dict]:  # type: ignore[no-untyped-def,type-arg]
    response = client.get(MODELS)
    assert response.status_code == 200, response.json
    documented = _response(client.get("/openapi.json").json, MODELS, "get", "200")
    assert documented.is_valid(response.json), list(documented.iter_errors(response.json))
    return {m["strategy"]: m for m in response.json["models"]}


@pytest.fixture
def pinned_after_a_search(sqlite_url, tmp_path):  # type: ignore[no-untyped-def]
    """A trainer with PINS fitted every strategy after SEARCH was published; `worker(**config)`
    is a web worker on its database and models (made last: the views answer from the app
    made last)."""
    models = str(tmp_path / "models")
    trainer = make_app(
        sqlite_url,
        caught_up=False,
        models_dir=models,
        two_tower=FAST,
        tuning_budget_seconds=0,
        tuning_pins=PINS,
        hybrid_weights=PINNED_WEIGHTS,
    )
    data = demo_data(seed=4, learners=40)
    trainer.container.upsert_courses().execute(data.courses)
    trainer.container.log_interactions().execute(data.interactions)
    trainer.container.artifact_store().publish("tuning", {"trials.json": b"[]"}, SEARCH)
    trainer.container.trainer(fit_interval=0).run_once()
    trainer.container.engine().dispose()
    made = []

    def worker(**config):  # type: ignore[no-untyped-def]
        made.append(make_app(sqlite_url, caught_up=False, models_dir=models, **config))
        return made[-1]

    yield worker
    for app in made:
        app.container.engine().dispose()


def test_a_strategy_shows_the_settings_its_version_was_fitted_with_not_the_searchs(
    pinned_after_a_search,
):
    """Before, admin showed the search's λ=250, objective all and pinned {} on a web host
    without the trainer's pins, while the models answering were fitted with λ=42 and next."""
    models = by_strategy(pinned_after_a_search().test_client())
    item_cf, two_tower = models["item_cf"], models["two_tower"]
    assert item_cf["fitted_with"] == {
        "kind": "ease",
        "regularization": 42.0,
        "recency_decay": 0.3,
        "proximity_weight": 4.0,
    }
    assert two_tower["fitted_with"] == {"objective": "next", "members": 1}
    assert two_tower["objective"] == "next"
    # the search's choice is shown as such, its figure beside it, and said not to be in use
    assert item_cf["tuning"] == {
        "settings": SEARCH["settings"]["item_cf"],
        "validation": {"ndcg@10": 0.4796},
        "pinned": {},
        "in_use": False,
    }
    assert two_tower["tuning"]["settings"]["objective"] == "all"
    assert two_tower["tuning"]["in_use"] is False
    assert models["sequence"]["fitted_with"]["recency_decay"] == 0.5
    assert models["sequence"]["tuning"]["in_use"] is True
    # this host pins nothing, and does not pass the search's choice off as a pin of its own
    assert not [m for m in models.values() if "pinned_on_this_host" in m]
    # nothing pinned here: the hybrid blends with the searched weights, whose figure is its own
    hybrid = models["hybrid"]
    assert hybrid["weights"] == TUNED_WEIGHTS
    assert hybrid["tuning"]["in_use"] is True
    assert hybrid["tuning"]["validation"] == {"ndcg@10": 0.5142}


def test_a_validation_figure_is_shown_only_beside_the_settings_it_was_measured_for(
    pinned_after_a_search,
):
    """Before, with the pins on both hosts, item_cf at λ=42 was shown with the λ=250 figure,
    two_tower 'next' with the 'all' figure and the pinned hybrid weights with the tuned ones'."""
    pinned = pinned_after_a_search(tuning_pins=PINS, hybrid_weights=PINNED_WEIGHTS)
    models = by_strategy(pinned.test_client())
    item_cf = models["item_cf"]
    assert item_cf["fitted_with"]["regularization"] == 42.0
    assert item_cf["pinned_on_this_host"] == {"regularization": 42.0}
    assert item_cf["tuning"]["settings"]["regularization"] == 250.0
    assert item_cf["tuning"]["validation"] == {"ndcg@10": 0.4796}
    assert item_cf["tuning"]["in_use"] is False
    two_tower = models["two_tower"]
    assert two_tower["fitted_with"]["objective"] == "next"
    assert (two_tower["tuning"]["settings"]["objective"], two_tower["tuning"]["in_use"]) == (
        "all",
        False,
    )
    # the web worker blends with the weights pinned here, not with the searched ones
    hybrid = models["hybrid"]
    assert hybrid["weights"] == {n: w for n, w in PINNED_WEIGHTS.items() if w > 0}
    assert hybrid["pinned_on_this_host"] == {"weights": PINNED_WEIGHTS}
    assert hybrid["tuning"]["settings"] == {"weights": TUNED_WEIGHTS}
    assert hybrid["tuning"]["validation"] == {"ndcg@10": 0.5142}
    assert hybrid["tuning"]["in_use"] is False
    # every figure shown is the one measured for the settings beside it
    for model in models.values():
        if "tuning" in model:
            name = model["strategy"]
            assert model["tuning"]["settings"] == SEARCH["settings"][name]
            assert model["tuning"]["validation"] == SEARCH["validation"][name]
    assert json.dumps(models)  # plain JSON all through


def test_an_ensembles_epochs_are_shown_per_member_never_summed_past_the_limit(sqlite_url):
    app = make_app(sqlite_url, caught_up=False, two_tower={**FAST, "members": 3, "epochs": 2})
    data = demo_data(seed=4, learners=40)
    app.container.upsert_courses().execute(data.courses)
    app.container.log_interactions().execute(data.interactions)
    app.container.train_two_tower().execute()
    figures = by_strategy(app.test_client())["two_tower"]["validation_metrics"]
    # each member ran its 2 epochs: 2, not their sum 6, which no member was allowed
    assert figures["member_epochs"] == [2, 2, 2] and figures["epochs_run"] == 2
    assert figures["members"] == 3 and type(figures["members"]) is int
    assert type(figures["epochs_run"]) is int
    app.container.engine().dispose()


def test_a_trainer_run_once_is_listed_with_what_it_did_and_that_it_stopped(
    sqlite_url, tmp_path, monkeypatch
):
    """`recsys trainer --once` from cron left a row per run that read as a trainer alive and at
    rest, then, as its seen_at aged, as one killed or stuck."""
    from click.testing import CliRunner

    from entrypoints.cli import cli
    from tests.conftest import CATALOG

    app = make_app(sqlite_url, caught_up=False, models_dir=str(tmp_path / "models"))
    app.container.upsert_courses().execute(CATALOG)
    monkeypatch.setenv("RS_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("RS_MODELS_DIR", str(tmp_path / "models"))
    result = CliRunner().invoke(cli, ["trainer", "--once"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (row,) = app.test_client().get("/admin/recommendations/models").json["trainers"]
    assert row["last_cycle"].startswith("published popularity, content")
    assert row["last_cycle"].endswith("; stopped: ran once")
    assert row["status"].startswith("stopped at ") and "(ran once): published" in row["status"]


def test_trainers_pinning_a_setting_differently_say_so_and_each_one_s_pins_are_listed(
    sqlite_url, tmp_path, monkeypatch, caplog
):
    """Two hosts' trainers, one pinning item_cf's λ: each found the other's item_cf fitted with
    settings it did not want and refitted it at every cycle, and nothing said why."""
    import logging

    from click.testing import CliRunner

    from entrypoints.cli import cli
    from tests.conftest import CATALOG

    app = make_app(sqlite_url, caught_up=False, models_dir=str(tmp_path / "models"))
    app.container.upsert_courses().execute(CATALOG)
    monkeypatch.setenv("RS_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("RS_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("RS_ITEM_CF_REGULARIZATION", "100")
    monkeypatch.setattr("socket.gethostname", lambda: "host-a")
    pinning = CliRunner().invoke(cli, ["trainer", "--once"], catch_exceptions=False)
    assert pinning.exit_code == 0, pinning.output
    monkeypatch.delenv("RS_ITEM_CF_REGULARIZATION")
    monkeypatch.setattr("socket.gethostname", lambda: "host-b")
    with caplog.at_level(logging.WARNING, logger="application.trainer"):
        other = CliRunner().invoke(cli, ["trainer", "--once", "--force"], catch_exceptions=False)
    assert other.exit_code == 0, other.output
    (said,) = [m for m in caplog.messages if "pins settings otherwise" in m]
    assert "item_cf regularization: not pinned here, 100.0 there" in said, said
    rows = app.test_client().get("/admin/recommendations/models").json["trainers"]
    assert [row["pinned"] for row in rows] == [{}, {"item_cf": {"regularization": 100.0}}]
    app.container.engine().dispose()


def test_a_trainer_run_once_while_another_fits_stands_by_and_says_so(
    sqlite_url, tmp_path, monkeypatch
):
    """A second host's `recsys trainer --once` ran the whole fit again; standing by, it said
    "every strategy is up to date with the data" though nothing had been looked at."""
    import fcntl

    from click.testing import CliRunner

    from entrypoints.cli import cli
    from tests.conftest import CATALOG

    app = make_app(sqlite_url, caught_up=False, models_dir=str(tmp_path / "models"))
    app.container.upsert_courses().execute(CATALOG)
    monkeypatch.setenv("RS_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("RS_MODELS_DIR", str(tmp_path / "models"))
    with open(tmp_path / "recsys.db.fit-turn", "a") as turn:  # the other trainer's fit holds it
        fcntl.flock(turn, fcntl.LOCK_EX)
        result = CliRunner().invoke(cli, ["trainer", "--once"], catch_exceptions=False)
        forced = CliRunner().invoke(cli, ["trainer", "--once", "--force"])
    assert result.exit_code == 0, result.output
    assert "nothing fitted: another trainer or train-two-tower is fitting" in result.output
    # a refit asked for was not done: cron must not take it as done
    assert forced.exit_code == 1 and "run again once it is done" in forced.output, forced.output
    assert not (tmp_path / "models" / "popularity").exists()
    (row,) = app.test_client().get("/admin/recommendations/models").json["trainers"]
    assert row["last_cycle"] == (
        "standing by: another trainer or train-two-tower is fitting; stopped: ran once"
    )
    app.container.engine().dispose()


def test_the_models_view_calls_a_trainer_gone_that_was_killed_while_it_fitted(database_url):
    """Its row said "started: fitting" for the 7 days it stayed listed; a script reading the
    view had to work out from the fitting turn what the dashboard says."""
    from datetime import UTC, datetime, timedelta

    from application.ports import TrainerBeat

    app = make_app(database_url)
    now = datetime.now(UTC)
    with app.container.uow() as uow:
        beat = TrainerBeat(
            "killed:1", now - timedelta(hours=1), now - timedelta(minutes=30), "started: fitting"
        )
        uow.trainers.beat(beat, forget_before=now - timedelta(days=1))
        uow.commit()
    (row,) = app.test_client().get("/admin/recommendations/models").json["trainers"]
    assert row["last_cycle"] == "started: fitting"
    assert row["status"].startswith("gone: fitting since "), row["status"]
    with app.container.fit_turn().taken():  # it may be the one holding it
        (row,) = app.test_client().get("/admin/recommendations/models").json["trainers"]
    assert row["status"].startswith("fitting since "), row["status"]
    app.container.engine().dispose()
