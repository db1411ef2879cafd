"""Latency of GET /dashboard refreshed with nothing new, with its charts drawn every time (as before
they were kept) and drawn once, in the same process.

    .venv/bin/python -m benchmarks.dashboard [--requests 30]

SQLite with the demo data and a few hundred served lists; the Flask app is called directly (every
layer but the network). Prints the median and p90 of each and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from adapters.demo_data import demo_data
from entrypoints.api import charts, create_app


def timed(client, requests: int, forget: bool) -> list[float]:  # type: ignore[no-untyped-def]
    seconds = []
    for _ in range(requests):
        if forget:
            charts._drawn.clear()
        start = time.perf_counter()
        assert client.get("/dashboard").status_code == 200
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="recsys-dashboard-"))
    app = create_app(
        {
            "database_url": f"sqlite:///{folder / 'bench.db'}",
            "models_dir": str(folder / "models"),
            "admin_token": "",
            "env": "dev",
        }
    )
    from adapters.sqlalchemy.migrate import upgrade

    upgrade(app.container.config.database_url())
    data = demo_data()
    app.container.upsert_courses().execute(data.courses)
    app.container.log_interactions().execute(data.interactions)
    client = app.test_client()
    learners = sorted({e.user_id for e in data.interactions})[:200]
    for n, learner in enumerate(learners):
        strategy = ("popularity", "content")[n % 2]
        client.get(f"/api/v1/recommendations/home?user_id={learner}&strategy={strategy}")
    timed(client, 3, forget=True)  # imports, fonts, the first queries
    rows = []
    for label, forget in (("drawn every time (before)", True), ("drawn once (now)", False)):
        seconds = sorted(timed(client, args.requests, forget))
        p50, p90 = statistics.median(seconds), seconds[int(0.9 * (len(seconds) - 1))]
        rows.append(p50)
        print(f"{label:28} p50 {1000 * p50:8.1f} ms   p90 {1000 * p90:8.1f} ms")
    print(f"ratio of medians: {rows[0] / rows[1]:.1f}x")
    app.container.engine().dispose()


if __name__ == "__main__":
    main()
