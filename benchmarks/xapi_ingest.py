"""Events/second of `recsys import-xapi` beside `recsys import-interactions` on the same events,
in one run, through the real CLI (file parsing, validation, batches of 1,000, one transaction each).

    nice -n 10 .venv/bin/python -m benchmarks.xapi_ingest [--events 100000] [--postgres]

SQLite in a temporary directory; with --postgres also a scratch database `h13_xapi_bench` on
RS_BENCH_SERVER_URL's server.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from adapters.sqlalchemy.migrate import downgrade, upgrade
from benchmarks.common import SERVER_URL
from entrypoints.cli import cli

VERBS = {
    "view": "http://id.tincanapi.com/verb/viewed",
    "click": "http://adlnet.gov/expapi/verbs/attempted",
    "enroll": "http://adlnet.gov/expapi/verbs/registered",
    "complete": "http://adlnet.gov/expapi/verbs/completed",
}
COURSES = 300


def write_files(n: int, folder: Path) -> tuple[Path, Path, Path]:
    """The same n events as our JSON lines and as xAPI statements (Moodle-like), plus a catalog."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    kinds = list(VERBS)
    catalog = folder / "courses.csv"
    catalog.write_text(
        "course_id,title\n" + "".join(f"course_{i},Course {i}\n" for i in range(COURSES))
    )
    events, statements = folder / "events.jsonl", folder / "statements.jsonl"
    with events.open("w") as ours, statements.open("w") as xapi:
        for i in range(n):
            user, course, kind = f"user{i % 5000}", f"course_{i % COURSES}", kinds[i % 4]
            moment = (start + timedelta(seconds=i)).isoformat()
            ours.write(
                json.dumps(
                    {
                        "event_id": f"bench-{i}",
                        "user_id": user,
                        "course_id": course,
                        "event_type": kind,
                        "occurred_at": moment,
                    }
                )
                + "\n"
            )
            xapi.write(
                json.dumps(
                    {
                        "id": f"00000000-0000-4000-8000-{i:012d}",
                        "actor": {
                            "name": f"Learner {user}",
                            "account": {"homePage": "https://lms.example", "name": user},
                        },
                        "verb": {"id": VERBS[kind], "display": {"en": kind}},
                        "object": {
                            "id": f"https://lms.example/courses/{course}",
                            "definition": {
                                "type": "http://id.tincanapi.com/activitytype/lms/course",
                                "name": {"en": f"Course {course}"},
                            },
                        },
                        "timestamp": moment,
                        "context": {"platform": "Moodle", "language": "en"},
                    }
                )
                + "\n"
            )
    return catalog, events, statements


def timed_import(url: str, command: str, catalog: Path, data: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one import."""
    os.environ["RS_DATABASE_URL"] = url
    runner = CliRunner()
    assert runner.invoke(cli, ["import-courses", str(catalog)]).exit_code == 0
    started, cpu = time.perf_counter(), time.process_time()
    result = runner.invoke(cli, [command, str(data)], catch_exceptions=False)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert result.exit_code == 0, result.output
    print(f"    {seconds:.1f} s ({cpu:.1f} s CPU): {result.output.strip().splitlines()[-1]}")
    return seconds, cpu


def scratch_postgres() -> str:
    server = make_url(SERVER_URL)
    dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = 'h13_xapi_bench'"
        ).fetchone():
            conn.execute("CREATE DATABASE h13_xapi_bench")
    return server.set(database="h13_xapi_bench").render_as_string(hide_password=False)


def fresh(url: str) -> str:
    if url.startswith("postgresql"):
        downgrade(url)
    elif url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    upgrade(url)
    return url


def main() -> None:
    gc.freeze()  # as `recsys` (entrypoints.cli.main) does before running a command
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each, alternating; the best run counts"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["RS_MODELS_DIR"] = str(folder / "models")
        catalog, events, statements = write_files(args.events, folder)
        backends = {"SQLite": lambda name: f"sqlite:///{folder / name}.db"}
        if args.postgres:
            pg = scratch_postgres()
            backends["PostgreSQL"] = lambda name: pg
        for backend, url_for in backends.items():
            print(f"{backend}, {args.events:,} events, best of {args.repeat}:")
            # Alternating runs on a shared machine: the best of each is its speed unloaded.
            runs: dict[str, list[tuple[float, float]]] = {"ours": [], "xapi": []}
            for _ in range(args.repeat):
                runs["ours"].append(
                    timed_import(fresh(url_for("ours")), "import-interactions", catalog, events)
                )
                runs["xapi"].append(
                    timed_import(fresh(url_for("xapi")), "import-xapi", catalog, statements)
                )
            ours, xapi = min(runs["ours"]), min(runs["xapi"])
            ours_cpu, xapi_cpu = min(c for _, c in runs["ours"]), min(c for _, c in runs["xapi"])
            n = args.events
            print(
                f"  import-interactions: {n / ours[0]:,.0f} events/s wall, {n / ours_cpu:,.0f} per CPU s"
            )
            print(
                f"  import-xapi:         {n / xapi[0]:,.0f} events/s wall, {n / xapi_cpu:,.0f} per CPU s"
            )
            print(
                f"  ratio xapi / interactions: {ours[0] / xapi[0]:.2f} wall, {ours_cpu / xapi_cpu:.2f} CPU"
            )


if __name__ == "__main__":
    main()
