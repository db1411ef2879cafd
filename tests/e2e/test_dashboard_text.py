"""What the dashboard says in words: course titles are text in its charts, whatever they hold
(matplotlib would read a "$" as the start of mathematics, drawing two as a formula and failing on
one it cannot parse), and each trainer's status is one thing, not two that disagree."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from application.ports import TrainerBeat
from tests.e2e.conftest import make_app

TITLES = {
    "course_budget": "Budgeting: from $100 to $1M",
    "course_broken": r"Broken $\frac{$ title",
    # characters the charts' font lacks: a 500 in the tests (a warning made an error), a
    # warning logged at every drawing in production
    "course_data": "数据科学入门",
    "course_control": "Caf\x88 Python",
}


def test_titles_with_dollar_signs_or_characters_the_font_lacks_are_drawn_as_written(sqlite_url):
    app = make_app(sqlite_url)
    client = app.test_client()
    courses = [{"course_id": c, "title": t, "category": "Money"} for c, t in TITLES.items()]
    assert client.post("/api/v1/courses", json={"courses": courses}).status_code == 200
    events = [
        {"user_id": f"u{n}", "course_id": course, "event_type": "enroll"}
        for course in TITLES
        for n in range(3)
    ]
    assert client.post("/api/v1/interactions", json={"events": events}).status_code == 200
    page = client.get("/dashboard?days=7")
    assert page.status_code == 200
    drawn = re.findall(r"<svg.*?</svg>", page.get_data(as_text=True), re.DOTALL)
    for title in TITLES.values():  # as <text>, not as a formula's glyphs
        assert any(f">{html.escape(title, quote=False)}<" in svg for svg in drawn), title
    app.container.engine().dispose()


def _trainer_rows(page: str) -> dict[str, str]:
    section = page[page.index('<section id="trainers">') :]
    section = section[: section.index("</section>")]
    rows = re.findall(r"<tr><td>([^<]+)</td>(.*?)</tr>", section, re.DOTALL)
    return {
        worker: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", rest)).strip() for worker, rest in rows
    }


def test_each_trainer_says_one_thing_it_is_doing_or_did_last(sqlite_url):
    """A trainer fitting its first cycle read "last fit cycle ended 19:01" beside "started:
    fitting": no cycle had ended, the time was when it began fitting."""
    app = make_app(sqlite_url)
    began = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    beats = [
        ("host-a:1", began, "started: fitting"),
        ("host-b:2", began + timedelta(minutes=1), "published popularity, item_cf"),
        ("host-c:3", began + timedelta(minutes=2), "stopped: no longer fitting"),
        ("cron:4", began + timedelta(minutes=3), "published content; stopped: ran once"),
        (
            "host-d:5",
            began + timedelta(minutes=4),
            "standing by: another trainer or train-two-tower is fitting",
        ),
    ]
    pins = {"host-b:2": {"item_cf": {"regularization": 100.0}}, "host-c:3": {}}
    with app.container.uow() as uow:
        for worker, seen_at, line in beats:
            beat = TrainerBeat(worker, began, seen_at, line, pins=pins.get(worker))
            uow.trainers.beat(beat, forget_before=began - timedelta(days=1))
        uow.commit()
    with app.container.fit_turn().taken() as held:  # host-a's fit holds the fitting turn
        assert held
        rows = _trainer_rows(app.test_client().get("/dashboard?days=7").get_data(as_text=True))
    at = [f"{seen:%Y-%m-%d %H:%M:%S} UTC" for _, seen, _ in beats]
    assert rows["host-a:1"].startswith(f"fitting since {at[0]}"), rows["host-a:1"]
    assert "ended" not in rows["host-a:1"] and "started: fitting" not in rows["host-a:1"]
    assert rows["host-b:2"].startswith(
        f"last fit cycle ended {at[1]}: published popularity, item_cf"
    ), rows["host-b:2"]
    # what each pins, beside: trainers pinning otherwise refit each other's versions
    assert rows["host-b:2"].endswith(" UTC item_cf regularization: 100.0"), rows["host-b:2"]
    assert rows["host-c:3"].endswith(" UTC none") and rows["cron:4"].endswith(" UTC not said")
    assert rows["host-c:3"].startswith(f"stopped at {at[2]}"), rows["host-c:3"]
    assert "ended" not in rows["host-c:3"]
    assert rows["cron:4"].startswith(f"stopped at {at[3]} (ran once): published content")
    assert rows["host-d:5"].startswith(
        f"standing by at {at[4]}: another trainer or train-two-tower is fitting"
    )
    app.container.engine().dispose()


def test_a_trainer_killed_while_it_fitted_reads_as_gone_once_no_one_holds_the_turn(database_url):
    """A trainer killed mid-fit (SIGKILL) or whose host went down never says it stopped: it read
    "fitting since" for the 7 days it stayed listed, beside the trainer that took over."""
    app = make_app(database_url)
    now = datetime.now(UTC).replace(microsecond=0)
    beats = [
        ("killed:1", now - timedelta(minutes=30), "started: fitting"),
        ("began:2", now - timedelta(seconds=20), "started: fitting"),  # may not hold it yet
        ("new:3", now - timedelta(minutes=1), "started"),
    ]
    with app.container.uow() as uow:
        for worker, seen_at, line in beats:
            beat = TrainerBeat(worker, now - timedelta(hours=1), seen_at, line)
            uow.trainers.beat(beat, forget_before=now - timedelta(days=1))
        uow.commit()
    rows = _trainer_rows(app.test_client().get("/dashboard?days=7").get_data(as_text=True))
    at = [f"{seen:%Y-%m-%d %H:%M:%S} UTC" for _, seen, _ in beats]
    assert rows["killed:1"].startswith(
        f"gone: fitting since {at[0]}, it no longer holds the fitting turn and never said it "
        "stopped (killed, or its host is down); its fit was dropped"
    ), rows["killed:1"]
    assert rows["began:2"].startswith(f"fitting since {at[1]}"), rows["began:2"]
    assert rows["new:3"].startswith(f"started at {at[2]}: jobs first"), rows["new:3"]
    with app.container.fit_turn().taken() as held:  # began:2 holds it now
        assert held
        rows = _trainer_rows(app.test_client().get("/dashboard?days=7").get_data(as_text=True))
    # one fits at a time: killed:1 began before began:2, which fits now
    assert rows["killed:1"].startswith(f"gone: fitting since {at[0]}"), rows["killed:1"]
    assert rows["began:2"].startswith(f"fitting since {at[1]}"), rows["began:2"]
    with app.container.uow() as uow:  # began:2 ended its cycle, and a long one holds the turn
        ended = TrainerBeat("began:2", now - timedelta(hours=1), now, "published popularity")
        uow.trainers.beat(ended, forget_before=now - timedelta(days=1))
        uow.commit()
    with app.container.fit_turn().taken():
        rows = _trainer_rows(app.test_client().get("/dashboard?days=7").get_data(as_text=True))
    assert rows["killed:1"].startswith(f"fitting since {at[0]}")  # it may be that long one
    app.container.engine().dispose()


def test_a_trainer_of_the_previous_release_standing_by_reads_as_standing_by(sqlite_url):
    """During a rolling upgrade a trainer still on the previous release says "standing by:
    another trainer is fitting" (its words before train-two-tower held the turn too): the
    dashboard read "last fit cycle ended ...: standing by: ...", a cycle that fitted nothing."""
    app = make_app(sqlite_url)
    now = datetime.now(UTC).replace(microsecond=0)
    beat = TrainerBeat(
        "old-host:1", now - timedelta(minutes=5), now, "standing by: another trainer is fitting"
    )
    with app.container.uow() as uow:
        uow.trainers.beat(beat, forget_before=now - timedelta(days=1))
        uow.commit()
    rows = _trainer_rows(app.test_client().get("/dashboard?days=7").get_data(as_text=True))
    assert rows["old-host:1"].startswith(
        f"standing by at {now:%Y-%m-%d %H:%M:%S} UTC: another trainer or train-two-tower is fitting"
    ), rows["old-host:1"]
    assert "ended" not in rows["old-host:1"]
    app.container.engine().dispose()
