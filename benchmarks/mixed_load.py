"""A running server under a learners' mix of requests, as the course platform sends them.

    .venv/bin/python -m benchmarks.mixed_load --port 8002 [--clients 4] [--seconds 30]
        [--strategy mixed] [--server-pid PID] [--out calls.jsonl]

Closed-loop clients, one keep-alive connection each (http.client, no dependency): 70% home lists
(`--strategy mixed`: each of the strategies in turn at random, learners user1..user3000 of the
demo data), 15% `/similar` of a demo course, 15% one learner event. Prints p50 / p95 / p99 per
kind, the errors, and with `--server-pid` (the `recsys serve` process) the CPU its workers spent
per request, the figure the load average of a shared box disturbs least. `--out` keeps every call
(time, kind, ms, status, two_tower's model_version) to look at a publish or a rollback under load.
Sends `RS_API_KEY` when it is set.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

STRATEGIES = ["popularity", "content", "item_cf", "sequence", "two_tower", "hybrid", "auto"]
COURSES = [
    f"course_{subject}_{level}"
    for subject in ("python", "sql", "ml", "statistics", "flask")
    for level in ("basic", "intermediate", "advanced")
]


@dataclass(frozen=True, slots=True)
class Call:
    at: float
    kind: str
    ms: float
    status: int | str
    version: str | None


def workers_cpu(server_pid: int | None) -> float:
    """CPU seconds (user + system) the server's worker processes have spent."""
    if server_pid is None:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _request(rnd: random.Random, strategy: str) -> tuple[str, str, str, str | None]:
    user = f"user{rnd.randint(1, 3000)}"
    draw = rnd.random()
    if strategy != "mixed" or draw < 0.7:
        chosen = rnd.choice(STRATEGIES) if strategy == "mixed" else strategy
        path = f"/api/v1/recommendations/home?user_id={user}&strategy={chosen}"
        return f"home:{chosen}", "GET", path, None
    if draw < 0.85:
        path = f"/api/v1/recommendations/similar/{rnd.choice(COURSES)}"
        return "similar", "GET", path, None
    body = {
        "event_id": f"bench-{uuid.uuid4().hex}",
        "user_id": user,
        "course_id": rnd.choice(COURSES),
        "event_type": rnd.choice(["view", "click", "enroll"]),
    }
    return "event", "POST", "/api/v1/interactions", json.dumps(body)


def run(port: int, clients: int, seconds: float, strategy: str) -> list[Call]:
    calls: list[Call] = []
    lock = threading.Lock()
    started = time.monotonic()
    stop = started + seconds
    headers = {"X-API-Key": os.environ["RS_API_KEY"]} if os.environ.get("RS_API_KEY") else {}

    def client(number: int) -> None:
        rnd = random.Random(number)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        while time.monotonic() < stop:
            kind, method, path, body = _request(rnd, strategy)
            sent = {**headers, "Content-Type": "application/json"} if body else headers
            begun = time.monotonic()
            version = None
            try:
                connection.request(method, path, body=body, headers=sent)
                reply = connection.getresponse()
                data = reply.read()
                status: int | str = reply.status
                if status == 200 and kind.startswith("home"):
                    version = json.loads(data).get("model_version")
            except (OSError, http.client.HTTPException) as error:
                status = type(error).__name__
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            now = time.monotonic()
            mine.append(Call(now - started, kind, (now - begun) * 1000, status, version))
        with lock:
            calls.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return calls


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--strategy", default="mixed", choices=["mixed", *STRATEGIES])
    parser.add_argument("--server-pid", type=int)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    load_before, cpu_before = os.getloadavg()[0], workers_cpu(args.server_pid)
    calls = run(args.port, args.clients, args.seconds, args.strategy)
    load_after, cpu_after = os.getloadavg()[0], workers_cpu(args.server_pid)
    print(
        f"{args.clients} clients, {args.seconds:.0f} s: {len(calls)} requests, "
        f"{len(calls) / args.seconds:.1f}/s, load average {load_before:.2f} -> {load_after:.2f}"
    )
    if args.server_pid is not None and calls:
        print(f"  workers' CPU per request: {(cpu_after - cpu_before) / len(calls) * 1000:.2f} ms")
    for kind in [*sorted({c.kind for c in calls}), "all"]:
        chosen = [c for c in calls if kind in ("all", c.kind)]
        ms = [c.ms for c in chosen]
        errors = sum(c.status != 200 for c in chosen)
        print(
            f"  {kind:16s} n={len(ms):6d} p50={_percentile(ms, 0.5):7.1f} "
            f"p95={_percentile(ms, 0.95):7.1f} p99={_percentile(ms, 0.99):7.1f} ms, "
            f"errors {errors}"
        )
    if args.out is not None:
        args.out.write_text("".join(json.dumps(asdict(c)) + "\n" for c in calls))


if __name__ == "__main__":
    main()
