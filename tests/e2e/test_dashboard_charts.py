"""The dashboard's charts draw only what was measured."""

from __future__ import annotations

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
