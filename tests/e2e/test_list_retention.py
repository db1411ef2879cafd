"""RS_LIST_RETENTION_DAYS end to end: `recsys trainer` removes the lists past it, the stats keep
their days, and a click naming a removed list is told why it is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import text

from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from domain.model import CourseId, Recommendation, RecommendationId, Slate, UserId
from entrypoints.cli import cli
from entrypoints.schemas import course_json
from tests.conftest import CATALOG
from tests.e2e.conftest import make_app
from tests.e2e.test_serving import events

STATS = "/api/v1/recommendations/stats/global?days=90"


def served(rid: str, days_ago: int) -> Slate:
    shown = (Recommendation(CourseId("course_sql_basic"), 1.0, 1, "popularity"),)
    at = datetime.now(UTC) - timedelta(days=days_ago)
    return Slate(RecommendationId(rid), UserId("user1"), "popularity", shown, at)


def test_a_trainer_removes_the_lists_past_the_retention_and_the_stats_keep_their_days(
    database_url, tmp_path, monkeypatch
):
    web = make_app(database_url, caught_up=False)
    client = web.test_client()
    client.post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    client.post("/api/v1/interactions", json={"events": events(0, 30)})
    old, recent = served("old-list", 35), served("recent-list", 10)
    with SqlAlchemyUnitOfWork(web.container.engine()) as uow:
        uow.slates.add(old)
        uow.slates.add(recent)
        uow.commit()
    click = {
        "event_id": "click-on-old",
        "user_id": "user1",
        "course_id": "course_sql_basic",
        "event_type": "click",
        "occurred_at": (old.served_at + timedelta(minutes=1)).isoformat(),
        "recommendation_id": "old-list",
    }
    assert client.post("/api/v1/interactions", json={"events": [click]}).status_code == 200
    before = client.get(STATS).json
    assert before["ctr"] == 0.5 and len(before["daily"]) == 2, before

    monkeypatch.setenv("RS_DATABASE_URL", database_url)
    monkeypatch.setenv("RS_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("RS_LIST_RETENTION_DAYS", "30")
    said = ""
    for _ in range(5):  # each cycle stores (then removes) for up to 5 s of work: a busy box
        cycle = CliRunner().invoke(cli, ["trainer", "--once"])
        assert cycle.exit_code == 0, cycle.output
        said += cycle.output
        if "stats: removed" in cycle.output:
            break
    assert "stats: removed the 1 lists of " in said, said
    with web.container.engine().connect() as connection:
        kept = connection.execute(text("SELECT recommendation_id FROM slates")).scalars().all()
    assert kept == ["recent-list"]
    assert client.get(STATS).json == before

    again = {**click, "event_id": "another-click-on-old"}
    refused = client.post("/api/v1/interactions", json={"events": [again]})
    assert refused.status_code == 400, refused.json
    assert "removed past RS_LIST_RETENTION_DAYS" in refused.json["error"]["message"]
    web.container.engine().dispose()
