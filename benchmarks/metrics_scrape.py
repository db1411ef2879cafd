"""What a scrape of /metrics costs after many gunicorn workers have come and gone: each worker
ever started leaves a counter and a histogram file. Prints the median time to build the
exposition with every worker's files kept (as before), and with the dead ones folded into one
file as gunicorn's master now does when a worker exits (entrypoints/metric_files.py).

    python -m benchmarks.metrics_scrape [--workers 10,100,500] [--scrapes 30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time

#: the label sets a worker of the service typically writes: routes x statuses
ROUTES = [f"/api/v1/route{n}" for n in range(10)] + ["/healthz", "/readyz", "unmatched"]
STATUSES = ("200", "400", "404")


def _worker_lifetime() -> int:
    """A forked worker that answered some requests on every route and status, then exited."""
    from entrypoints import metrics

    pid = os.fork()
    if pid == 0:
        for route in ROUTES:
            for status in STATUSES:
                metrics.HTTP_REQUESTS.labels("GET", route, status).inc()
                metrics.HTTP_LATENCY.labels("GET", route, status).observe(0.004)
        metrics.served("home", "hybrid", 10)
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def _median_ms(scrapes: int) -> tuple[float, set[bytes]]:
    from entrypoints import metrics

    times, body = [], b""
    for _ in range(scrapes):
        started = time.perf_counter()
        body, _ = metrics.exposition()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), set(body.splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="10,100,500")
    parser.add_argument("--scrapes", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as folder:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder  # before prometheus_client is imported
        _measure(folder, [int(n) for n in args.workers.split(",")], args.scrapes)


def _measure(folder: str, counts: list[int], scrapes: int) -> None:
    from entrypoints import metric_files

    started, dead = 0, []
    print("workers started  kept files: median ms  folded: median ms  lines")
    for target in counts:
        while started < target:
            dead.append(_worker_lifetime())
            started += 1
        kept, lines = _median_ms(scrapes)
        with tempfile.TemporaryDirectory(prefix="bench-folded-") as folded_folder:
            for name in os.listdir(folder):
                if name.endswith(".db"):
                    shutil.copy(os.path.join(folder, name), folded_folder)
            for pid in dead:
                metric_files.fold_dead(folded_folder, pid)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = folded_folder
            folded, folded_lines = _median_ms(scrapes)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        assert folded_lines == lines, "folding changed what is exported"
        print(f"{started:>15}  {kept:>21.1f}  {folded:>17.1f}  {len(lines):>5}")


if __name__ == "__main__":
    main()
