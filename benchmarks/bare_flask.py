"""The baselines of the serving benchmark, under the same gunicorn settings as `recsys serve`:

    python -m benchmarks.bare_flask PORT WORKERS THREADS             # a bare Flask JSON endpoint
    python -m benchmarks.bare_flask PORT WORKERS THREADS DATABASE_URL  # + the least I/O a request needs

The second does what every recommendation request must do and nothing else: one indexed read of
the learner's events and one inserted row, committed (the service inserts a slate and its items).
It bounds from above the share of bare Flask that any service of this design can reach.
"""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime

from flask import Flask, request
from sqlalchemy import text

from adapters.sqlalchemy.engine import build_engine
from entrypoints.wsgi import GunicornServer

_HISTORY = text(
    "SELECT event_id, course_id, event_type, occurred_at FROM interactions "
    "WHERE user_id = :user_id ORDER BY occurred_at, id"
)
_TABLE = text(
    "CREATE TABLE IF NOT EXISTS bench_io_slates (id TEXT PRIMARY KEY, user_id TEXT, at TEXT)"
)
_INSERT = text("INSERT INTO bench_io_slates (id, user_id, at) VALUES (:id, :user_id, :at)")


def bare_app() -> Flask:
    app = Flask(__name__)

    @app.get("/api/v1/recommendations/home")
    def home():  # type: ignore[no-untyped-def]
        return {"user_id": "u", "strategy": "none", "items": []}

    return app


def io_app(url: str) -> Flask:
    engine = build_engine(url)
    with engine.begin() as connection:
        connection.execute(_TABLE)
    app = Flask(__name__)

    @app.get("/api/v1/recommendations/home")
    def home():  # type: ignore[no-untyped-def]
        user_id = request.args.get("user_id", "")
        with engine.begin() as connection:
            events = connection.execute(_HISTORY, {"user_id": user_id}).all()
            connection.execute(
                _INSERT,
                {"id": uuid.uuid4().hex, "user_id": user_id, "at": datetime.now(UTC).isoformat()},
            )
        return {"user_id": user_id, "strategy": "none", "items": [], "events": len(events)}

    return app


if __name__ == "__main__":
    port, workers, threads = (int(a) for a in sys.argv[1:4])
    options = {"bind": f"127.0.0.1:{port}", "workers": workers, "threads": threads}
    url = sys.argv[4] if len(sys.argv) > 4 else None
    GunicornServer(options, factory=(lambda: io_app(url)) if url else bare_app).run()
