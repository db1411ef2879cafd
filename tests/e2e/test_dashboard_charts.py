"""The dashboard's charts draw only what was measured, in figures that can be read."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

from domain.model import (
    CourseId,
    EventType,
    Interaction,
    Recommendation,
    RecommendationId,
    Slate,
    UserId,
)
from tests.e2e.conftest import make_app

COURSES = [{"course_id": f"course_{n}", "title": f"Course {n}", "category": "C"} for n in range(30)]


def _served_and_clicked(app, day: datetime, shown: int = 20, clicked: int = 1) -> None:  # type: ignore[no-untyped-def]
    """One content list served on `day`, of `shown` courses, the first `clicked` clicked."""
    name = f"slate-{day:%Y%m%d}"
    items = tuple(
        Recommendation(CourseId(f"course_{n}"), 1.0 - n / 100, n + 1, "content")
        for n in range(shown)
    )
    with app.container.uow() as uow:
        uow.slates.add(Slate(RecommendationId(name), UserId("u1"), "content", items, day))
        clicks = [
            Interaction(
                f"click-{name}-{n}",
                UserId("u1"),
                item.course_id,
                EventType.CLICK,
                day + timedelta(seconds=1),
                RecommendationId(name),
            )
            for n, item in enumerate(items[:clicked])
        ]
        uow.interactions.add_batch(clicks)
        uow.commit()


def _with_courses(sqlite_url):  # type: ignore[no-untyped-def]
    app = make_app(sqlite_url)
    assert app.test_client().post("/api/v1/courses", json={"courses": COURSES}).status_code == 200
    return app


def test_a_day_a_strategy_served_no_lists_breaks_its_ctr_line(sqlite_url):
    app = _with_courses(sqlite_url)
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    for days_ago in (3, 1):  # none two days ago
        _served_and_clicked(app, today - timedelta(days=days_ago))
    page = app.test_client().get("/dashboard?days=7").get_data(as_text=True)
    line = re.search(r'<g id="daily-ctr-content">\s*<path d="([^"]*)"', page)
    assert line, "the content strategy's line is drawn"
    assert line.group(1).count("M") == 2, "two measured days, apart: two pieces, not one line"
    app.container.engine().dispose()


def test_each_days_ctr_comes_with_how_many_courses_were_shown_and_a_day_of_too_few_is_not_drawn(
    sqlite_url,
):
    """A day with 2 courses shown and 1 clicked was drawn as a 50% spike beside days of 4%:
    the table gives each day's lists, courses shown and clicks, and the line leaves out a day
    a strategy showed fewer than 20 courses (the page says so)."""
    app = _with_courses(sqlite_url)
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    _served_and_clicked(app, today - timedelta(days=2), shown=25, clicked=1)
    _served_and_clicked(app, today - timedelta(days=1), shown=2, clicked=1)
    page = app.test_client().get("/dashboard?days=7").get_data(as_text=True)
    figure = page[page.index('data-chart="daily-ctr"') :]
    figure = figure[: figure.index("</figure>")]
    assert "fewer than 20 courses" in figure.split("<svg")[0] + figure.split("</svg>")[-1]
    table = re.findall(r"<tr>(.*?)</tr>", figure.split('class="chart-data"')[1], re.DOTALL)
    cells = [re.findall(r"<t[dh]>(.*?)</t[dh]>", row) for row in table]
    header, *rows = cells
    assert header[-1] == "CTR (%)" and {"lists", "courses shown", "clicked"} <= set(header)
    shown = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    few = shown[f"{today - timedelta(days=1):%Y-%m-%d}"]
    assert (few["lists"], few["courses shown"], few["clicked"], few["CTR (%)"]) == (
        "1",
        "2",
        "1",
        "50.00",
    )
    assert few["drawn"].startswith("no: fewer than 20")
    enough = shown[f"{today - timedelta(days=2):%Y-%m-%d}"]
    assert (enough["courses shown"], enough["CTR (%)"]) == ("25", "4.00")
    assert enough["drawn"] == "yes"
    line = re.search(r'<g id="daily-ctr-content">\s*<path d="([^"]*)"', figure)
    assert line and line.group(1).count("M") == 1 and "L" not in line.group(1), "one day drawn"
    ticks = re.findall(r'<g id="ytick_\d+">.*?>([\d.]+)</text>', figure, re.DOTALL)
    assert ticks and max(float(t) for t in ticks) < 50, "no 50% spike on the axis"
    app.container.engine().dispose()


def test_with_no_lists_served_the_headline_gives_no_click_through_rate(sqlite_url):
    app = make_app(sqlite_url)
    page = app.test_client().get("/dashboard?days=7").get_data(as_text=True)
    headline = page[page.index("</header>") : page.index('<div class="grid">')]
    assert "%" not in headline, "0 clicks of 0 courses shown is no rate of 0%"
    assert "No recommendations were served in this period." in headline
    app.container.engine().dispose()


def test_enrolment_counts_on_the_axis_can_be_told_apart(sqlite_url):
    # Long titles leave the count axis narrow; hundreds of enrolments give it three-digit ticks.
    app = make_app(sqlite_url)
    client = app.test_client()
    titles = [f"Intermediate Continuous Integration and Delivery, part {n}" for n in range(3)]
    courses = [{"course_id": f"c{n}", "title": t, "category": "Ops"} for n, t in enumerate(titles)]
    assert client.post("/api/v1/courses", json={"courses": courses}).status_code == 200
    events = [
        {"user_id": f"u{n}", "course_id": f"c{n % 3}", "event_type": "enroll"} for n in range(560)
    ]
    events = [e for e in events if e["course_id"] == "c0" or int(e["user_id"][1:]) < 100]
    assert client.post("/api/v1/interactions", json={"events": events}).status_code == 200
    page = client.get("/dashboard?days=7").get_data(as_text=True)
    svg = page[page.index('data-chart="top-courses"') :]
    svg = svg[: svg.index("</svg>")]
    ticks = re.findall(r'<g id="xtick_\d+">.*?x="([\d.]+)"[^>]*>(\d+)</text>', svg, re.DOTALL)
    assert len(ticks) >= 3
    digit = 6.4  # a digit of DejaVu Sans at the ticks' 10px
    for (x1, left), (x2, right) in itertools.pairwise(ticks):
        room = float(x2) - float(x1)  # between two centred labels
        assert room > digit * (len(left) + len(right)) / 2 + 2, f"{left} and {right} overlap"
    app.container.engine().dispose()


def test_two_courses_of_one_title_each_get_their_own_bar(sqlite_url):
    """Two courses titled "Introduction" (3 and 1 enrolments) shared one place on the chart:
    the most enrolled course's bar was drawn over the other's, further down, and the chart
    showed two courses where the table listed three. Each course has its own bar, a repeated
    title told apart by the course's id, in the table too."""
    app = make_app(sqlite_url)
    client = app.test_client()
    courses = [
        {"course_id": "c0", "title": "Introduction", "category": "Ops"},
        {"course_id": "c1", "title": "Introduction", "category": "Art"},
        {"course_id": "c2", "title": "Other", "category": "Ops"},
    ]
    assert client.post("/api/v1/courses", json={"courses": courses}).status_code == 200
    enrolled = {"c0": 3, "c1": 1, "c2": 2}
    events = [
        {"user_id": f"u{n}", "course_id": course, "event_type": "enroll"}
        for course, times in enrolled.items()
        for n in range(times)
    ]
    assert client.post("/api/v1/interactions", json={"events": events}).status_code == 200
    page = client.get("/dashboard?days=7").get_data(as_text=True)
    figure = page[page.index('data-chart="top-courses"') :]
    figure = figure[: figure.index("</figure>")]
    svg = figure[: figure.index("</svg>")]
    ticks = re.findall(r'<g id="ytick_\d+">.*?<text[^>]*>([^<]*)</text>', svg, re.DOTALL)
    top_down = ["Introduction (c0)", "Other", "Introduction (c1)"]
    assert ticks[::-1] == top_down
    table = re.findall(r"<td>(.*?)</td>\s*<td>(.*?)</td>", figure.split('class="chart-data"')[1])
    assert table == [("Introduction (c0)", "3"), ("Other", "2"), ("Introduction (c1)", "1")]
    app.container.engine().dispose()
