"""The trainer chooses the settings on the deployment's own data; workers serve with them, the
operator sees them, and a pinned setting wins."""

from __future__ import annotations

from adapters.demo_data import demo_data
from tests.e2e.conftest import make_app
from tests.unit.test_two_tower import FAST

MODELS = "/admin/recommendations/models"


def by_strategy(client) -> dict[str, dict]:  # type: ignore[no-untyped-def,type-arg]
    response = client.get(MODELS)
    assert response.status_code == 200, response.json
    return {m["strategy"]: m for m in response.json["models"]} | {"": response.json}


def test_the_trainer_publishes_the_settings_it_chose_and_workers_blend_with_them(sqlite_url):
    app = make_app(sqlite_url, caught_up=False, two_tower=FAST, tuning_budget_seconds=60)
    data = demo_data(seed=4, learners=40)
    app.container.upsert_courses().execute(data.courses)
    app.container.log_interactions().execute(data.interactions)
    fitted = app.container.trainer(fit_interval=0).run_once()
    published = [f.strategy for f in fitted if f.version]
    # the cheap strategies first (better answers at once), then the search, then the training
    assert published[:4] == ["popularity", "content", "item_cf", "sequence"]
    assert published.index("tuning") < published.index("two_tower") == len(published) - 1

    models = by_strategy(app.test_client())
    tuning = models[""]["tuning"]
    assert tuning["version"] and tuning["budget_seconds"] == 60 and tuning["seconds"] > 0
    assert tuning["trial_learners"] == tuning["learners"] > 0  # small data: no share
    chosen = models["hybrid"]["tuning"]["settings"]["weights"]
    assert models["hybrid"]["weights"] == {n: w for n, w in chosen.items() if w > 0}
    assert models["hybrid"]["tuning"]["validation"]["ndcg@10"] > 0
    item_cf = models["item_cf"]["tuning"]
    assert set(item_cf["settings"]) == {"regularization", "recency_decay", "proximity_weight"}
    assert item_cf["pinned"] == {} and item_cf["validation"]["ndcg@10"] > 0
    # what is served was fitted with what was chosen
    store = app.container.artifact_store()
    for name in ("item_cf", "two_tower"):
        manifest = store.load(name, store.current_version(name), only=()).manifest
        assert manifest["settings"] == models[name]["tuning"]["settings"]
        assert models[name]["tuning"]["in_use"] is True
    assert (
        models["two_tower"]["objective"] == models["two_tower"]["tuning"]["settings"]["objective"]
    )
    app.container.engine().dispose()

    # The operator pins item_cf's λ and the hybrid's weights: the next cycle refits item_cf with
    # the pinned λ (nothing is searched again) and workers blend with the pinned weights at once.
    weights = {"two_tower": 0.0, "popularity": 0.5, "content": 0.5, "item_cf": 0.0}
    pinned = make_app(
        sqlite_url,
        caught_up=False,
        two_tower=FAST,
        tuning_budget_seconds=60,
        models_dir=app.container.config.models_dir(),
        hybrid_weights=weights,
        tuning_pins={"item_cf": {"regularization": 77.0}, "hybrid": {"weights": weights}},
    )
    refitted = pinned.container.trainer(fit_interval=0).run_once()
    assert [(f.strategy, f.version is not None) for f in refitted] == [("item_cf", True)]
    models = by_strategy(pinned.test_client())
    assert models["hybrid"]["weights"] == {"popularity": 0.5, "content": 0.5}
    assert models["item_cf"]["fitted_with"]["regularization"] == 77.0
    assert models["item_cf"]["pinned_on_this_host"] == {"regularization": 77.0}
    # the search's λ and its figure stay as they were chosen, said not to be what answers
    assert models["item_cf"]["tuning"] == {**item_cf, "in_use": False}
    assert models[""]["tuning"]["version"] == tuning["version"]
    pinned.container.engine().dispose()
