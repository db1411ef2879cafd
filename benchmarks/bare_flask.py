"""The baseline of the serving benchmark: a bare Flask JSON endpoint under the same gunicorn
settings as `recsys serve` (python -m benchmarks.bare_flask PORT WORKERS THREADS)."""

from __future__ import annotations

import sys

from flask import Flask

from entrypoints.wsgi import GunicornServer


def bare_app() -> Flask:
    app = Flask(__name__)

    @app.get("/api/v1/recommendations/home")
    def home():  # type: ignore[no-untyped-def]
        return {"user_id": "u", "strategy": "none", "items": []}

    return app


if __name__ == "__main__":
    port, workers, threads = (int(a) for a in sys.argv[1:4])
    options = {"bind": f"127.0.0.1:{port}", "workers": workers, "threads": threads}
    GunicornServer(options, factory=bare_app).run()
