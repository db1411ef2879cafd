"""What the lists served take in PostgreSQL: every home answer is kept (a slate and a row per course
shown, with its reason), for attribution, the stats and the bandit, and none is ever removed.

    .venv/bin/python -m benchmarks.list_storage [--lists 20000] [--strategy item_cf]

Demo data (300 learners) in the scratch database of benchmarks/common.py; the service answers
`--lists` home requests in this process (Flask's test client), a click on one list in ten, then
VACUUM ANALYZE. Prints the bytes on disk a list takes (tables, indexes and TOAST of `slates` and
`slate_items`), and what a year of lists takes at a few rates.
"""

from __future__ import annotations

import argparse
import random

import psycopg

from benchmarks.common import fresh_bench_database, psycopg_dsn

MODELS = "var/bench/list_storage_models"
TABLES = ("slates", "slate_items")


def _sizes(url: str) -> dict[str, int]:
    with psycopg.connect(psycopg_dsn(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        return {
            table: int(conn.execute(f"SELECT pg_total_relation_size('{table}')").fetchone()[0])
            for table in (*TABLES, "interactions")
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lists", type=int, default=20_000)
    parser.add_argument("--strategy", default="item_cf")
    args = parser.parse_args()
    from adapters.demo_data import demo_data
    from entrypoints.api import create_app

    url = fresh_bench_database()
    app = create_app({"database_url": url, "models_dir": MODELS, "env": "dev"})
    data = demo_data(seed=5, learners=300)
    app.container.upsert_courses().execute(data.courses)
    app.container.log_interactions().execute(data.interactions)
    app.container.fit_strategies(train_two_tower=None).execute()
    app.container.engine().dispose()
    app = create_app(
        {"database_url": url, "models_dir": MODELS, "env": "dev", "log_level": "WARNING"}
    )
    client, rng = app.test_client(), random.Random(1)
    before = _sizes(url)
    shown = clicks = 0
    for n in range(args.lists):
        user = f"user{rng.randint(1, 300)}"
        answer = client.get(
            f"/api/v1/recommendations/home?user_id={user}&strategy={args.strategy}"
        ).json
        shown += len(answer["items"])
        if n % 10 == 0 and answer["items"]:
            event = {
                "user_id": user,
                "course_id": answer["items"][0]["course_id"],
                "event_type": "click",
                "recommendation_id": answer["recommendation_id"],
            }
            assert client.post("/api/v1/interactions", json={"events": [event]}).status_code == 200
            clicks += 1
    after = _sizes(url)
    app.container.engine().dispose()
    lists = sum(after[t] - before[t] for t in TABLES)
    print(
        f"{args.lists} lists ({shown / args.lists:.1f} courses each, strategy {args.strategy}), "
        f"{clicks} clicks"
    )
    for table in (*TABLES, "interactions"):
        grown = after[table] - before[table]
        print(f"  {table}: {grown / 2**20:.1f} MB, {grown / args.lists:.0f} bytes a list")
    per_list = lists / args.lists
    print(f"lists: {per_list:.0f} bytes each (slates and slate_items, indexes included)")
    for a_day in (10_000, 100_000, 1_000_000):
        print(f"  {a_day:>9,} lists a day: {per_list * a_day * 365 / 2**30:6.1f} GiB a year")


if __name__ == "__main__":
    main()
