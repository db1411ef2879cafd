"""What /admin/recommendations/models says of the models answering: the settings each was
fitted with, apart from what the last settings search chose and what is pinned, and training
figures an operator can read."""

from __future__ import annotations

from adapters.demo_data import demo_data
from tests.e2e.conftest import make_app
from tests.unit.test_two_tower import FAST

MODELS = "/admin/recommendations/models"


def by_strategy(client) -> dict[str, dict]:  # type: ignore[no-untyped-def,type-arg]
    response = client.get(MODELS)
    assert response.status_code == 200, response.json
    return {m["strategy"]: m for m in response.json["models"]}


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
