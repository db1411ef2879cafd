"""A home request's round trips to PostgreSQL, and what they cost with the database on another host.

    .venv/bin/python -m benchmarks.round_trips [--delays 0,0.5] [--requests 200] [--rounds 5]

A proxy (this module again, in a process of its own) sits between the service and PostgreSQL:
it delays every chunk either way by `--delays` milliseconds (one way; asyncio's timer makes 0.5
nearer 1 ms) and counts the messages the service sends. The service answers home requests in
this process (Flask's test client, an API key set, as in production), `--requests` a round,
with its reads run as shipped (no transaction: `container.reads`) and as before 2026-12-01 (in
a transaction: `container.reads` overridden by `container.uow`), the two alternated over
`--rounds` rounds. Prints, per delay and arm, the median over rounds of each round's median
milliseconds a request and of its messages a request, and the ratio of the two arms.
Demo data (300 learners) in the scratch database of benchmarks/common.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

from sqlalchemy.engine import make_url

from benchmarks.common import fresh_bench_database

KEY = "k" * 24


def proxy(listen: int, counter: int, target: int, delay_ms: float) -> None:
    """Forwards 127.0.0.1:`listen` to `target`, each chunk `delay_ms` late; 127.0.0.1:`counter`
    answers with the count of chunks the clients sent."""
    delay, sent = delay_ms / 1000, [0]

    async def pipe(reader: Any, writer: Any, counted: bool) -> None:
        queue: asyncio.Queue = asyncio.Queue()

        async def forward() -> None:
            while (item := await queue.get())[1]:
                wait = item[0] + delay - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(item[1])
                await writer.drain()
            writer.close()

        task = asyncio.create_task(forward())
        while data := await reader.read(65536):
            sent[0] += counted
            await queue.put((time.monotonic(), data))
        await queue.put((0.0, b""))
        await task

    async def connection(reader: Any, writer: Any) -> None:
        upstream = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(
            pipe(reader, upstream[1], True),
            pipe(upstream[0], writer, False),
            return_exceptions=True,
        )

    async def count(_: Any, writer: Any) -> None:
        writer.write(f"{sent[0]}\n".encode())
        await writer.drain()
        writer.close()

    async def serve() -> None:
        await asyncio.start_server(connection, "127.0.0.1", listen)
        await asyncio.start_server(count, "127.0.0.1", counter)
        await asyncio.Event().wait()

    asyncio.run(serve())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _sent(port: int) -> int:
    with socket.create_connection(("127.0.0.1", port)) as counter:
        return int(counter.makefile().readline())


def _load(url: str) -> None:
    from adapters.demo_data import demo_data
    from entrypoints.api import create_app

    app = create_app({"database_url": url, "models_dir": MODELS, "api_key": KEY, "env": "dev"})
    data = demo_data(seed=5, learners=300)
    app.container.upsert_courses().execute(data.courses)
    app.container.log_interactions().execute(data.interactions)
    app.container.fit_strategies(train_two_tower=None).execute()
    app.container.engine().dispose()


def _round(client: Any, counter: int, strategy: str, requests: int, rng: random.Random) -> tuple:
    headers = {"X-API-Key": KEY}
    before, times = _sent(counter), []
    for _ in range(requests):
        started = time.perf_counter()
        answer = client.get(
            f"/api/v1/recommendations/home?user_id=user{rng.randint(1, 300)}&strategy={strategy}",
            headers=headers,
        )
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.json
    return statistics.median(times), (_sent(counter) - before) / requests


MODELS = "var/bench/round_trips_models"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delays", default="0,0.5", help="one-way milliseconds, comma-separated")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--strategy", default="item_cf")
    parser.add_argument("--proxy", nargs=4, type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.proxy:
        proxy(int(args.proxy[0]), int(args.proxy[1]), int(args.proxy[2]), args.proxy[3])
        return
    from entrypoints.api import create_app

    url = make_url(fresh_bench_database())
    _load(url.render_as_string(hide_password=False))
    for delay in (float(d) for d in args.delays.split(",")):
        port, counter = _free_port(), _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.round_trips", "--proxy"]
            + [str(port), str(counter), str(url.port or 5432), str(delay)],
            env={**os.environ, "PYTHONPATH": os.getcwd()},
        )
        while server.poll() is None:  # until the proxy listens
            try:
                _sent(counter)
                break
            except OSError:
                time.sleep(0.1)
        if server.returncode is not None:
            raise SystemExit(f"the proxy stopped ({server.returncode})")
        try:
            proxied = url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
            app = create_app(
                {
                    "database_url": proxied,
                    "models_dir": MODELS,
                    "api_key": KEY,
                    "env": "dev",
                    "refresh_seconds": 3600,
                    "log_level": "WARNING",
                }
            )
            client, container = app.test_client(), app.container
            rng = random.Random(1)
            _round(client, counter, args.strategy, 30, rng)  # warm-up: the models, the pool
            arms: dict[str, list[tuple[float, float]]] = {"shipped": [], "before": []}
            for _ in range(args.rounds):
                for arm in arms:
                    if arm == "before":
                        container.reads.override(container.uow)
                    arms[arm].append(_round(client, counter, args.strategy, args.requests, rng))
                    container.reads.reset_override()
            figures = {
                arm: (
                    statistics.median(r[0] for r in rounds),
                    statistics.median(r[1] for r in rounds),
                )
                for arm, rounds in arms.items()
            }
            for arm, (ms, sent) in figures.items():
                print(
                    f"delay {delay:g} ms, reads {arm:7s}: {ms:6.2f} ms a request, {sent:4.1f} messages sent"
                )
            print(
                f"delay {delay:g} ms: shipped / before {figures['shipped'][0] / figures['before'][0]:.2f}",
                flush=True,
            )
            container.engine().dispose()
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
