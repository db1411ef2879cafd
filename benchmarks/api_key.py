"""What RS_API_KEY costs a request: GET /home through the Flask app (every layer but the network)
on PostgreSQL, with and without the key, in one process, rounds alternated.

    .venv/bin/python -m benchmarks.api_key [--requests 300] [--rounds 5]

With a key, each request first reads the caller's recent wrong credentials from the database
(the throttle every worker and host shares), then compares the key. Loads the demo catalog and
200 demo learners into the `recsys_bench` database and fits popularity once.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from adapters.demo_data import demo_data
from benchmarks.common import fresh_bench_database
from entrypoints.api import create_app

KEY = "bench-api-key-0123456789"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    url, models = fresh_bench_database(), tempfile.mkdtemp(prefix="recsys-bench-models-")
    config = {"database_url": url, "models_dir": models, "refresh_seconds": 0, "env": "dev"}
    apps = {
        "no key": (create_app({**config, "api_key": ""}), {}),
        "key": (create_app({**config, "api_key": KEY}), {"X-API-Key": KEY}),
    }
    first = apps["no key"][0].container
    data = demo_data(seed=5, learners=200)
    first.upsert_courses().execute(data.courses)
    first.log_interactions().execute(data.interactions)
    first.fit_strategies(train_two_tower=None).execute()
    p50s: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(args.rounds):
        for name, (app, headers) in apps.items():
            client, times = app.test_client(), []
            for i in range(args.requests):
                path = f"/api/v1/recommendations/home?user_id=user{i % 200 + 1}&strategy=popularity"
                started = time.perf_counter()
                response = client.get(path, headers=headers)
                times.append(time.perf_counter() - started)
                assert response.status_code == 200, response.json
            p50s[name].append(statistics.median(times) * 1000)
    for name, runs in p50s.items():
        shown = ", ".join(f"{p:.2f}" for p in runs)
        print(f"{name:>6}: p50 {statistics.median(runs):.2f} ms (median of {args.rounds}: {shown})")
    ratio = statistics.median(p50s["key"]) / statistics.median(p50s["no key"])
    print(f"with the key / without: {ratio:.2f}x")


if __name__ == "__main__":
    main()
