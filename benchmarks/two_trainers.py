"""What a second trainer costs: `recsys trainer --once` alone on a fresh demo database, then two
started together on another fresh one (two hosts' trainers sharing PostgreSQL and a models
directory), each child's CPU seconds read from the kernel (wait4); medians over the runs. With
the fitting turn, the two cost about what one does: the second stands by.

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.two_trainers [--runs 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import fresh_bench_database

RECSYS = [sys.executable, "-m", "entrypoints.cli"]


def trainers(count: int) -> tuple[float, float, list[str]]:
    """Wall seconds, CPU seconds of all `count` trainers, and each one's last log line."""
    url = fresh_bench_database()
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "RS_DATABASE_URL": url, "RS_MODELS_DIR": f"{folder}/models"}
        subprocess.run(
            [*RECSYS, "demo-data", "--if-empty"], env=env, check=True, capture_output=True
        )
        logs = [Path(folder) / f"trainer{n}.log" for n in range(count)]
        started = time.perf_counter()
        children = []
        for log in logs:
            with open(log, "w") as out:
                children.append(
                    subprocess.Popen(
                        [*RECSYS, "trainer", "--once"], env=env, stdout=out, stderr=out
                    )
                )
        cpu = 0.0
        for child in children:
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
            cpu += usage.ru_utime + usage.ru_stime
        wall = time.perf_counter() - started
        said = [log.read_text().strip().splitlines()[-1][-120:] for log in logs]
        if any(child.returncode for child in children):
            raise SystemExit(f"a trainer failed: {said}")
    return wall, cpu, said


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    one, two = [], []
    for run in range(args.runs):
        one.append(trainers(1))
        two.append(trainers(2))
        print(
            f"run {run + 1}: one trainer {one[-1][0]:.0f} s wall, {one[-1][1]:.0f} CPU s; "
            f"two together {two[-1][0]:.0f} s wall, {two[-1][1]:.0f} CPU s",
            flush=True,
        )
    cpu_one = statistics.median(r[1] for r in one)
    cpu_two = statistics.median(r[1] for r in two)
    print(f"median CPU s: one trainer {cpu_one:.0f}, two together {cpu_two:.0f}")
    print(
        f"two trainers cost {cpu_two / cpu_one:.2f}x one (before the fitting turn, at 7a29a22, "
        "each did the whole fit: 2.0x, docs/benchmarks.md)"
    )
    print("the last lines of the two:", *two[-1][2], sep="\n  ")


if __name__ == "__main__":
    main()
