"""Course titles are text in the dashboard's charts, whatever they hold: matplotlib would read
a "$" as the start of mathematics, drawing two as a formula and failing on one it cannot parse."""

from __future__ import annotations

import html
import re

from tests.e2e.conftest import make_app

TITLES = {
    "course_budget": "Budgeting: from $100 to $1M",
    "course_broken": r"Broken $\frac{$ title",
}


def test_titles_with_dollar_signs_are_drawn_as_written(sqlite_url):
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
