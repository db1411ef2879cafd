"""Serving at scale: fit seconds per strategy, in-process latency, HTTP throughput against a bare
Flask endpoint under the same gunicorn settings (the ratio is the figure) and against one that
does only the read and the insert every request needs (the ceiling of this design), p99 while
versions are published, worker RSS, and the time to a first answer after a restart.

    python -m benchmarks.serving --url sqlite:///var/bench/serving.db --models var/bench/models
    python -m benchmarks.serving --courses 2000 --learners 20000 --events 400000   # smaller

The data is generated (seeded) when the database has no courses; the trainer fits once when the
published versions are older than the data. Needs `wrk` (apt-get install wrk) for the HTTP part.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

STRATEGIES = ("popularity", "content", "item_cf", "sequence", "two_tower", "hybrid")
WRK_SCRIPT = """
math.randomseed(%(seed)d)
request = function()
  return wrk.format("GET", "/api/v1/recommendations/home?user_id=learner" ..
    math.random(0, %(learners)d - 1) .. "&strategy=%(strategy)s&explain=true")
end
"""


def container_for(url: str, models: str, **overrides: Any):  # type: ignore[no-untyped-def]
    from entrypoints.config import load_settings
    from entrypoints.container import Container

    settings = {**load_settings(), "database_url": url, "models_dir": models, **overrides}
    container = Container()
    container.config.from_dict(settings)
    return container


def prepare(args: argparse.Namespace) -> None:
    container = container_for(args.url, args.models)
    container.migrate()
    with container.uow() as uow:
        empty = uow.courses.count() == 0
    if empty:
        from benchmarks.serving_data import generate

        started = time.perf_counter()
        generate(args.url, args.courses, args.learners, args.events, seed=args.seed)
        print(f"generated the data in {time.perf_counter() - started:.0f}s")
    started = time.perf_counter()
    fitted = container.fit_strategies().execute(progress=lambda line: print(f"  {line}"))
    if fitted:
        print("fit seconds per strategy (the trainer, once):")
        for item in fitted:
            print(f"  {item.strategy:11s} {item.seconds:8.1f}s  {item.note}")
        print(f"  {'all':11s} {time.perf_counter() - started:8.1f}s")
    container.engine().dispose()


def in_process(args: argparse.Namespace) -> None:
    from application.use_cases.recommend_home import RecommendHomeQuery
    from domain.model import UserId

    container = container_for(args.url, args.models, refresh_seconds=3600)
    started = time.perf_counter()
    use_case = container.recommend_home()
    container.strategies().snapshot()
    print(
        f"\nin-process (one worker thread), snapshot loaded in {time.perf_counter() - started:.1f}s"
    )
    rng = random.Random(args.seed)
    # CPU: the thread's own time, which on a shared machine leaves out waiting for a core.
    print(
        f"  {'strategy':11s} {'p50 ms':>8s} {'p99 ms':>8s} {'CPU p50':>8s} {'CPU p99':>8s}  answered by"
    )
    for strategy in args.strategies:
        times, cpu = [], []
        answered: dict[str, int] = {}
        for i in range(args.requests + 50):
            query = RecommendHomeQuery(
                UserId(f"learner{rng.randrange(args.learners)}"), 10, strategy
            )
            began, began_cpu = time.perf_counter(), time.thread_time()
            result = use_case.execute(query)
            if i >= 50:  # warm-up
                times.append(time.perf_counter() - began)
                cpu.append(time.thread_time() - began_cpu)
                answered[result.slate.strategy] = answered.get(result.slate.strategy, 0) + 1
        times.sort()
        cpu.sort()
        print(
            f"  {strategy:11s} {1000 * statistics.median(times):8.2f} "
            f"{1000 * times[int(0.99 * len(times))]:8.2f} {1000 * statistics.median(cpu):8.2f} "
            f"{1000 * cpu[int(0.99 * len(cpu))]:8.2f}  {answered}"
        )
    container.engine().dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, seconds: float = 120) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {seconds}s")


def cpu_seconds(master: int) -> float:
    """User + system CPU seconds of a gunicorn master's workers."""
    total = 0
    for pid in subprocess.run(
        ["pgrep", "-P", str(master)], capture_output=True, text=True
    ).stdout.split():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def wrk(
    port: int, strategy: str, args: argparse.Namespace, seconds: float, master: int = 0
) -> dict[str, float]:
    """wrk's rate and p99, and (given the server's master pid) the workers' CPU ms per request."""
    before = cpu_seconds(master) if master else 0.0
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(
        WRK_SCRIPT % {"seed": args.seed, "learners": args.learners, "strategy": strategy}
    )
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{args.clients}",
            f"-d{seconds:.0f}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    script.unlink()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99[2]]  # type: ignore[index]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
    return {
        "rps": rate,
        "p99_ms": float(p99[1]) * scale,  # type: ignore[index]
        "errors": float(errors[1]) if errors else 0.0,
        "cpu_ms": 1000 * (cpu_seconds(master) - before) / requests if master else 0.0,
    }


def server_env(args: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "RS_DATABASE_URL": args.url,
        "RS_MODELS_DIR": args.models,
        "RS_REFRESH_SECONDS": "2",
        "RS_ADMIN_TOKEN": "bench",
    }


def start_service(args: argparse.Namespace, port: int) -> subprocess.Popen:  # type: ignore[type-arg]
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "entrypoints.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
        ],
        env=server_env(args),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_baseline(args: argparse.Namespace, port: int, url: str = "") -> subprocess.Popen:  # type: ignore[type-arg]
    """benchmarks.bare_flask under the service's gunicorn settings (with `url`: read + insert)."""
    command = [sys.executable, "-m", "benchmarks.bare_flask", str(port), str(args.workers)]
    return subprocess.Popen(
        [*command, str(args.threads), *([url] if url else [])],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def worker_rss_mb(master: int) -> list[float]:
    children = subprocess.run(
        ["pgrep", "-P", str(master)], capture_output=True, text=True
    ).stdout.split()
    sizes = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        sizes.append(int(re.search(r"VmRSS:\s+(\d+)", status)[1]) / 1024)  # type: ignore[index]
    return sizes


def republish(args: argparse.Namespace, stop: threading.Event) -> int:
    """Publish new versions of every strategy (the current files again) every 2 s, as a trainer
    does, so the workers load while they serve."""
    from adapters.fs_artifacts import FilesystemArtifactStore

    store = FilesystemArtifactStore(args.models)
    published = 0
    while not stop.wait(2.0):
        for name in STRATEGIES[:-1]:
            version = store.current_version(name)
            if version:
                artifact = store.load(name, version)
                manifest = {
                    k: v
                    for k, v in artifact.manifest.items()
                    if k not in ("files", "version", "created_at", "name")
                }
                store.publish(name, artifact.files, manifest)
                published += 1
    return published


def http(args: argparse.Namespace) -> None:
    home = "/api/v1/recommendations/home?user_id=learner1&strategy=hybrid"
    bare_port, io_port, port = free_port(), free_port(), free_port()
    bare, io = start_baseline(args, bare_port), start_baseline(args, io_port, args.url)
    service = start_service(args, port)
    try:
        wait_for(f"http://127.0.0.1:{bare_port}{home}")
        wait_for(f"http://127.0.0.1:{io_port}{home}")
        first = wait_for(f"http://127.0.0.1:{port}{home}")
        print(
            f"\nHTTP: gunicorn {args.workers} workers x {args.threads} threads, wrk "
            f"{args.clients} connections, {args.seconds:.0f}s per run, medians of {args.runs}"
        )
        print(f"  first answer after a start with artifacts present: {first:.2f}s")
        print("  (CPU: the workers' CPU ms per request; its ratio does not depend on other load)")
        baseline = [wrk(bare_port, "none", args, args.seconds, bare.pid) for _ in range(args.runs)]
        base_rps = statistics.median(r["rps"] for r in baseline)
        base_p99 = statistics.median(r["p99_ms"] for r in baseline)
        base_cpu = statistics.median(r["cpu_ms"] for r in baseline)
        print(
            f"  {'bare Flask':11s} {base_rps:9.0f} req/s  p99 {base_p99:7.1f} ms  "
            f"CPU {base_cpu:6.3f} ms"
        )
        # The ceiling for this design: bare Flask + one indexed read + one committed insert.
        least = [wrk(io_port, "none", args, args.seconds, io.pid) for _ in range(args.runs)]
        io_rps = statistics.median(r["rps"] for r in least)
        io_cpu = statistics.median(r["cpu_ms"] for r in least)
        print(
            f"  {'+ read+insert':11s} {io_rps:9.0f} req/s  p99 "
            f"{statistics.median(r['p99_ms'] for r in least):7.1f} ms  CPU {io_cpu:6.3f} ms  "
            f"{100 * io_rps / base_rps:5.1f}% of bare Flask (CPU {100 * base_cpu / io_cpu:5.1f}%)"
        )
        for strategy in args.strategies:
            runs = [wrk(port, strategy, args, args.seconds, service.pid) for _ in range(args.runs)]
            rps = statistics.median(r["rps"] for r in runs)
            p99 = statistics.median(r["p99_ms"] for r in runs)
            cpu = statistics.median(r["cpu_ms"] for r in runs)
            errors = sum(r["errors"] for r in runs)
            print(
                f"  {strategy:11s} {rps:9.0f} req/s  p99 {p99:7.1f} ms  CPU {cpu:6.3f} ms  "
                f"{100 * rps / base_rps:5.1f}% of bare Flask (CPU {100 * base_cpu / cpu:5.1f}%), "
                f"{100 * rps / io_rps:5.1f}% of read+insert (CPU {100 * io_cpu / cpu:5.1f}%)  "
                f"non-2xx {errors:.0f}"
            )
        stop = threading.Event()
        counted: list[int] = []
        publisher = threading.Thread(target=lambda: counted.append(republish(args, stop)))
        publisher.start()
        during = wrk(port, "hybrid", args, max(args.seconds, 10))
        stop.set()
        publisher.join()
        print(
            f"  hybrid while {counted[0]} versions were published: p99 {during['p99_ms']:.1f} ms, "
            f"{during['rps']:.0f} req/s, non-2xx {during['errors']:.0f}"
        )
        sizes = worker_rss_mb(service.pid)
        print(f"  worker RSS: {', '.join(f'{s:.0f} MB' for s in sizes)}")
    finally:
        for process in (bare, io, service):
            process.terminate()
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="sqlite:///var/bench/serving.db")
    parser.add_argument("--models", default="var/bench/models")
    parser.add_argument("--courses", type=int, default=10_000)
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--requests", type=int, default=1000, help="in-process, per strategy")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--strategies", default=",".join(STRATEGIES), help="comma-separated")
    args = parser.parse_args()
    args.strategies = args.strategies.split(",")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    prepare(args)
    in_process(args)
    if not args.skip_http:
        http(args)


if __name__ == "__main__":
    main()
