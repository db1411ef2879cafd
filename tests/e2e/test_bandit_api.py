"""strategy=auto, update-online-model and the admin views of the bandit and of a recommendation."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from entrypoints.cli import cli
from tests.conftest import event
from tests.e2e.conftest import make_app

HOME = "/api/v1/recommendations/home"


@pytest.fixture
def served(database_url, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    models = str(tmp_path / "models")
    monkeypatch.setenv("RS_DATABASE_URL", database_url)
    monkeypatch.setenv("RS_MODELS_DIR", models)
    app = make_app(database_url, models_dir=models)
    client = app.test_client()
    from entrypoints.schemas import course_json
    from tests.conftest import CATALOG

    client.post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    client.post(
        "/api/v1/interactions",
        json={
            "user_id": "u1",
            "course_id": "course_python_basic",
            "event_type": "complete",
            "occurred_at": "2026-11-01T10:00:00Z",
        },
    )
    yield app, client
    app.container.engine().dispose()


def update(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["update-online-model", *args], catch_exceptions=False)


def test_auto_lets_the_bandit_choose_and_says_which(served):
    _, client = served
    body = client.get(f"{HOME}?user_id=u1&strategy=auto").json
    assert body["selected_by"] == "bandit"
    assert body["strategy"] in {"content", "item_cf", "hybrid", "popularity", "two_tower"}


def _serve_and_click(client, url: str, times: int) -> list[dict]:  # type: ignore[no-untyped-def]
    served = []
    clicks = []
    for _ in range(times):
        body = client.get(url).json
        served.append(body)
        clicks.append(
            {
                "user_id": "u1",
                "course_id": body["items"][0]["course_id"],
                "event_type": "click",
                "recommendation_id": body["recommendation_id"],
            }
        )
    assert client.post("/api/v1/interactions", json={"events": clicks}).json["accepted"] == times
    return served


def _serve_auto_and_click(client, times: int) -> list[dict]:  # type: ignore[no-untyped-def]
    """`times` auto lists for u1, clicked. An arm with nothing for u1 (item_cf, sequence) falls
    back to popularity: the list counts for the arm chosen, with what it earned."""
    return _serve_and_click(client, f"{HOME}?user_id=u1&strategy=auto", times)


def _clicked(slates: list[dict]) -> dict[str, tuple[int, float]]:  # type: ignore[type-arg]
    """Per arm chosen, the pulls and rewards `slates` (each clicked once) are worth."""
    worth: dict[str, tuple[int, float]] = {}
    for s in slates:
        chosen = s.get("fallback_from", s["strategy"])
        pulls, reward = worth.get(chosen, (0, 0.0))
        worth[chosen] = (pulls + 1, reward + 0.3)
    return worth


def test_explicit_strategy_requests_teach_the_bandit_nothing(served):
    _, client = served
    _serve_and_click(client, f"{HOME}?user_id=u1&strategy=content", 4)
    client.get(f"{HOME}?user_id=u1&strategy=popularity")
    result = update("--min-interactions", "1", "--settle-minutes", "0")
    assert "0 attributed interactions on 0 slates" in result.output
    arms = client.get("/admin/recommendations/bandit").json["arms"]
    assert all(a["pulls"] == 0 for a in arms)


def test_rewards_flow_from_clicks_on_the_bandits_own_slates_to_its_arms_once(served):
    _, client = served
    _serve_and_click(client, f"{HOME}?user_id=u1&strategy=content", 3)  # not the bandit's
    chosen = _serve_auto_and_click(client, 6)
    assert all(s["selected_by"] == "bandit" for s in chosen)

    too_few = update("--min-interactions", "10", "--settle-minutes", "0")
    assert "fewer than 10; nothing changed" in too_few.output
    first = update("--min-interactions", "1", "--settle-minutes", "0")
    assert f"credited {len(chosen)} slates and {len(chosen)} interactions" in first.output
    again = update("--min-interactions", "1", "--settle-minutes", "0")
    assert "nothing changed" in again.output

    arms = {a["strategy"]: a for a in client.get("/admin/recommendations/bandit").json["arms"]}
    worth = _clicked(chosen)
    for name, arm in arms.items():
        pulls, reward = worth.get(name, (0, 0.0))
        assert arm["pulls"] == pulls and arm["reward_sum"] == pytest.approx(reward)
    assert sum(a["selection_probability"] for a in arms.values()) == pytest.approx(1.0)


def test_a_course_clicked_again_and_again_earns_its_list_the_strongest_reward_once(served):
    """One of the bandit's lists has its course clicked three times and enrolled in twice: the
    list is one pull worth an enrolment (0.7), not a reward per event."""
    _, client = served
    chosen = _serve_auto_and_click(client, 1)
    busy = chosen[0]
    more = [
        {
            "event_id": f"again-{kind}-{n}",
            "user_id": "u1",
            "course_id": busy["items"][0]["course_id"],
            "event_type": kind,
            "recommendation_id": busy["recommendation_id"],
        }
        for kind, times in (("click", 2), ("enroll", 2))
        for n in range(times)
    ]
    assert client.post("/api/v1/interactions", json={"events": more}).json["accepted"] == 4
    update("--min-interactions", "1", "--settle-minutes", "0")
    arms = {a["strategy"]: a for a in client.get("/admin/recommendations/bandit").json["arms"]}
    earned = {n: reward for n, (_, reward) in _clicked(chosen).items()}
    busy_arm = busy.get("fallback_from", busy["strategy"])
    earned[busy_arm] += 0.4  # an enrolment, not a click
    assert {n: a["reward_sum"] for n, a in arms.items() if a["pulls"]} == pytest.approx(earned)
    assert arms[busy_arm]["pulls"] == _clicked(chosen)[busy_arm][0]


def test_an_empty_list_the_bandit_chose_is_no_pull(served):
    """A learner who took every active course: the bandit's strategy has nothing to show, and
    a list that shows nothing must not count against it as a pull that earned nothing."""
    _, client = served
    events = [
        {"user_id": "u7", "course_id": c, "event_type": "complete"}
        for c in (
            "course_python_basic",
            "course_python_intermediate",
            "course_sql_basic",
            "course_ml_basic",
            "course_spanish_basic",
        )
    ]
    assert client.post("/api/v1/interactions", json={"events": events}).status_code == 200
    for _ in range(5):
        body = client.get(f"{HOME}?user_id=u7&strategy=auto").json
        assert body["items"] == [] and "recommendation_id" not in body
    assert "from 0 slates" in update("--recount", "--settle-minutes", "0").output
    arms = client.get("/admin/recommendations/bandit").json["arms"]
    assert all(a["pulls"] == 0 for a in arms)


def _credited_before_it_was_served(container, slate: dict) -> None:  # type: ignore[no-untyped-def,type-arg]
    """What an older version accepted: u1 completing a course of `slate`, credited to it though
    dated weeks before it was served (repair-credit clears such credit)."""
    with container.uow() as uow:
        completed = event(
            "u1",
            slate["items"][0]["course_id"],
            "complete",
            recommendation_id=slate["recommendation_id"],
        )
        uow.interactions.add_batch([completed])
        uow.commit()


def test_credit_for_what_a_list_did_not_show_its_learner_earns_its_arm_nothing(served):
    """Another learner completing a course of u1's list, credited to it by an older version:
    CTR does not count it, and neither does the bandit."""
    app, client = served
    chosen = _serve_auto_and_click(client, 4)
    with app.container.uow() as uow:
        uow.interactions.add_batch(
            [
                event(
                    "u2",
                    chosen[0]["items"][0]["course_id"],
                    "complete",
                    recommendation_id=chosen[0]["recommendation_id"],
                )
            ]
        )
        uow.commit()
    update("--min-interactions", "1", "--settle-minutes", "0")
    arms = client.get("/admin/recommendations/bandit").json["arms"]
    earned = {n: reward for n, (_, reward) in _clicked(chosen).items()}  # u1's own clicks
    assert {a["strategy"]: a["reward_sum"] for a in arms if a["pulls"]} == pytest.approx(earned)


def test_recount_takes_rewards_of_cleared_credit_out_of_the_arms(served):
    """Credit an older version accepted (u1 completing a course of the list before it was served)
    was counted as that arm's reward; once repair-credit clears it, --recount counts the arms as
    if it had never been there, and a plain update would not have."""
    app, client = served
    chosen = _serve_auto_and_click(client, 4)
    unearned = chosen[0]
    _credited_before_it_was_served(app.container, unearned)
    update("--min-interactions", "1", "--settle-minutes", "0")

    def rewards() -> dict[str, float]:
        arms = client.get("/admin/recommendations/bandit").json["arms"]
        return {a["strategy"]: a["reward_sum"] for a in arms if a["pulls"]}

    earned = {n: reward for n, (_, reward) in _clicked(chosen).items()}  # u1's own clicks
    inflated = rewards()
    arm = unearned.get("fallback_from", unearned["strategy"])
    assert inflated[arm] == pytest.approx(earned[arm] + 0.7)

    repaired = CliRunner().invoke(cli, ["repair-credit", "--apply"], catch_exceptions=False)
    assert "cleared the credit of 1 events" in repaired.output
    assert "nothing changed" in update("--min-interactions", "1", "--settle-minutes", "0").output
    assert rewards() == inflated  # a plain update never counts a slate twice, nor again
    result = update("--recount", "--settle-minutes", "0")
    assert f"recounted the arms from {len(chosen)} slates and {len(chosen)} interactions" in (
        result.output
    )
    assert rewards() == pytest.approx(earned)
    # and later updates go on from there, without counting those slates again
    assert "nothing changed" in update("--min-interactions", "1", "--settle-minutes", "0").output


def test_explain_says_why_a_course_is_not_recommended(served):
    _, client = served
    body = client.get(
        "/admin/recommendations/explain?user_id=u1&course_id=course_python_basic"
    ).json
    assert body["removed_by"] == ["removed: the learner completed it"]
    nxt = client.get(
        "/admin/recommendations/explain?user_id=u9&course_id=course_python_intermediate&strategy=popularity"
    ).json
    popularity = nxt["strategies"][0]
    assert popularity["strategy"] == "popularity" and popularity["rank"] is not None
    assert any(
        rule.startswith("demoted: prerequisites not taken (Python Basics)")
        for rule in popularity["rules"]
    )
    boosted = client.get(
        "/admin/recommendations/explain?user_id=u1&course_id=course_python_intermediate&strategy=content"
    ).json
    assert any(
        rule.startswith("boosted: next step after Python Basics")
        for rule in boosted["strategies"][0]["rules"]
    )
    assert client.get("/admin/recommendations/explain?user_id=u1&course_id=nope").status_code == 404


def test_auto_keeps_answering_after_the_bandit_learned(served):
    _, client = served
    _serve_auto_and_click(client, 3)
    assert "credited" in update("--min-interactions", "1", "--settle-minutes", "0").output
    for _ in range(3):
        assert client.get(f"{HOME}?user_id=u1&strategy=auto").json["selected_by"] == "bandit"


def test_an_update_already_counting_does_not_undo_a_recount(served):
    """Host A's update reads the arms, host B recounts them (after repair-credit cleared a
    reward), then A publishes: over B's recount it put the cleared reward back. It counts again
    on the recount instead."""
    from application.use_cases.update_bandit import UpdateBandit

    app, client = served
    container = app.container
    unearned = _serve_auto_and_click(client, 4)[0]
    _credited_before_it_was_served(container, unearned)
    update("--min-interactions", "1", "--settle-minutes", "0")
    cleared = CliRunner().invoke(cli, ["repair-credit", "--apply"], catch_exceptions=False)
    assert "cleared the credit of 1 events" in cleared.output
    _serve_auto_and_click(client, 2)  # so that A has slates to count
    recounted: list[str] = []

    class Meanwhile:
        """Host A's unit of work: host B recounts while A reads the slates."""

        def __init__(self) -> None:
            self.inner = container.uow()

        def __enter__(self):  # type: ignore[no-untyped-def]
            if not recounted:
                recounted.append(container.update_bandit().recount(settle_minutes=0).message)
            return self.inner.__enter__()

        def __exit__(self, *exc):  # type: ignore[no-untyped-def]
            return self.inner.__exit__(*exc)

    UpdateBandit(Meanwhile, container.bandit()).execute(min_interactions=1, settle_minutes=0)
    assert recounted

    def rewards() -> dict[str, tuple[int, float]]:
        arms = client.get("/admin/recommendations/bandit").json["arms"]
        return {a["strategy"]: (a["pulls"], a["reward_sum"]) for a in arms if a["pulls"]}

    after_both = rewards()
    update("--recount", "--settle-minutes", "0")
    assert after_both == rewards()  # what a recount now finds: no reward cleared, no slate twice


def test_a_fresh_worker_reads_the_last_readable_bandit_state_not_none(served, tmp_path):
    """A truncated state file: a worker that had read it keeps what it had, and one started
    after it (or `update-online-model`, a new process) reads the version before it, rather
    than starting the arms from nothing and publishing that."""
    app, client = served
    _serve_auto_and_click(client, 3)
    update("--min-interactions", "1", "--settle-minutes", "0")
    first = {
        a["strategy"]: a["pulls"] for a in client.get("/admin/recommendations/bandit").json["arms"]
    }
    assert sum(first.values()) > 0
    _serve_auto_and_click(client, 3)
    update("--min-interactions", "1", "--settle-minutes", "0")
    store = app.container.artifact_store()
    latest = store.current_version("bandit")
    state = tmp_path / "models" / "bandit" / "versions" / latest / "bandit_state.json"
    state.write_bytes(state.read_bytes()[:10])
    worker = make_app(app.container.config.database_url(), models_dir=str(tmp_path / "models"))
    shown = worker.test_client().get("/admin/recommendations/bandit").json
    assert {a["strategy"]: a["pulls"] for a in shown["arms"]} == first
    worker.container.engine().dispose()


def test_an_update_over_a_state_no_version_of_which_can_be_read_counts_every_slate_again(
    served, tmp_path
):
    """The only state published, damaged (cut short on disk): counted on nothing, the next
    update (the trainer makes one every cycle) published the arms of its window alone, and every
    slate counted before it, older than --hours, was gone from the arms for good."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    app, client = served
    older = _serve_auto_and_click(client, 3)
    update("--min-interactions", "1", "--settle-minutes", "0")
    with app.container.engine().begin() as connection:  # served a month ago
        connection.execute(
            text("UPDATE slates SET served_at = :then"),
            {"then": datetime(2026, 10, 1, tzinfo=UTC)},
        )
    latest = _serve_auto_and_click(client, 2)
    version = app.container.artifact_store().current_version("bandit")
    state = tmp_path / "models" / "bandit" / "versions" / version / "bandit_state.json"
    state.write_bytes(state.read_bytes()[:10])
    damaged = make_app(app.container.config.database_url(), models_dir=str(tmp_path / "models"))
    view = damaged.test_client().get("/admin/recommendations/bandit").json
    # said, or the empty arms read as a bandit that has counted nothing yet
    assert "cannot be read" in view["unreadable"] and version in view["unreadable"], view
    damaged.container.engine().dispose()

    result = update("--min-interactions", "1", "--settle-minutes", "0")
    assert "cannot be read" in result.output and "recounted the arms from 5 slates" in (
        result.output
    )
    worker = make_app(app.container.config.database_url(), models_dir=str(tmp_path / "models"))
    view = worker.test_client().get("/admin/recommendations/bandit").json
    assert sum(a["pulls"] for a in view["arms"]) == len(older) + len(latest)
    assert "unreadable" not in view
    worker.container.engine().dispose()


@pytest.mark.parametrize("damage", ["a directory", "NUL bytes", "a name cut short"])
def test_a_damaged_bandit_pointer_neither_empties_the_arms_nor_lets_an_update_do_it(
    served, tmp_path, damage
):
    """A `current` that names no kept version: the bandit reads the newest readable state all
    the same (a process that read one keeps it), and the next update counts on from it."""
    app, client = served
    _serve_auto_and_click(client, 3)
    update("--min-interactions", "1", "--settle-minutes", "0")
    arms = client.get("/admin/recommendations/bandit").json["arms"]
    first = {a["strategy"]: a["pulls"] for a in arms}
    assert sum(first.values()) > 0
    pointer = tmp_path / "models" / "bandit" / "current"
    named = pointer.read_text()
    pointer.unlink()
    if damage == "a directory":
        pointer.mkdir()
    else:
        pointer.write_bytes(bytes(32) if damage == "NUL bytes" else named[:8].encode())
    worker = make_app(app.container.config.database_url(), models_dir=str(tmp_path / "models"))
    shown = worker.test_client().get("/admin/recommendations/bandit").json
    assert {a["strategy"]: a["pulls"] for a in shown["arms"]} == first
    chosen = _serve_auto_and_click(client, 2)
    assert "credited" in update("--min-interactions", "1", "--settle-minutes", "0").output
    arms = client.get("/admin/recommendations/bandit").json["arms"]
    added = sum(pulls for pulls, _ in _clicked(chosen).values())
    assert sum(a["pulls"] for a in arms) == sum(first.values()) + added
    worker.container.engine().dispose()


def test_a_new_learner_is_served_popular_courses_without_a_choice_the_bandit_learns_from(served):
    """Only popularity can answer a learner with no history: strategy=auto serves it and says
    no bandit chose (no arm is credited), rather than a personalised arm falling back."""
    _, client = served
    body = client.get(f"{HOME}?user_id=newcomer&strategy=auto").json
    assert body["strategy"] == "popularity" and body["items"]
    assert "fallback_from" not in body and "selected_by" not in body
    client.post(
        "/api/v1/interactions",
        json={
            "user_id": "newcomer",
            "course_id": body["items"][0]["course_id"],
            "event_type": "click",
            "recommendation_id": body["recommendation_id"],
        },
    )
    assert (
        "0 attributed interactions on 0 slates"
        in update("--min-interactions", "1", "--settle-minutes", "0").output
    )
    arms = client.get("/admin/recommendations/bandit").json["arms"]
    assert {
        a["strategy"]: a["new_learner_probability"] for a in arms if a["new_learner_probability"]
    } == {"popularity": 1.0}
