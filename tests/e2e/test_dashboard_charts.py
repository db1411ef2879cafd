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


def _served_and_clicked(app, day: datetime) -> None:  # type: ignore[no-untyped-def]
    name = f"slate-{day:%Y%m%d}"
    item = Recommendation(CourseId("course_a"), 1.0, 1, "content")
    with app.container.uow() as uow:
        uow.slates.add(Slate(RecommendationId(name), UserId("u1"), "content", (item,), day))
        click = Interaction(
            f"click-{name}",
            UserId("u1"),
            item.course_id,
            EventType.CLICK,
            day + timedelta(seconds=1),
            RecommendationId(name),
        )
        uow.interactions.add_batch([click])
        uow.commit()


def test_a_day_a_strategy_served_no_lists_breaks_its_ctr_line(sqlite_url):
    app = make_app(sqlite_url)
    courses = [{"course_id": "course_a", "title": "A", "category": "C"}]
    assert app.test_client().post("/api/v1/courses", json={"courses": courses}).status_code == 200
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    for days_ago in (3, 1):  # none two days ago
        _served_and_clicked(app, today - timedelta(days=days_ago))
    page = app.test_client().get("/dashboard?days=7").get_data(as_text=True)
    line = re.search(r'<g id="daily-ctr-content">\s*<path d="([^"]*)"', page)
    assert line, "the content strategy's line is drawn"
    assert line.group(1).count("M") == 2, "two measured days, apart: two pieces, not one line"
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
