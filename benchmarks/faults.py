"""The reliability campaign as a benchmark: load on the real server over a private PostgreSQL,
which is stopped and frozen mid-load; a worker killed; the published artifacts corrupted.

Prints, per phase: requests, status counts, the longest wait; then acknowledged events lost and
the time from the database's return to the first stored event.

    python -m benchmarks.faults [--seconds 6] [--clients 6]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from benchmarks.live_server import Server, recsys
from benchmarks.load import Load
from benchmarks.private_postgres import PrivatePostgres


def _workers(master: int) -> list[int]:
    found = []
    for entry in Path("/proc").glob("[0-9]*/status"):
        try:
            lines = entry.read_text().splitlines()
        except OSError:
            continue
        ppid = next(line for line in lines if line.startswith("PPid:"))
        if int(ppid.split()[1]) == master:
            found.append(int(entry.parent.name))
    return found


def _report(name: str, load: Load, since: float, until: float = float("inf")) -> None:
    calls = [c for c in load.snapshot() if since <= c.started < until]
    statuses = Counter(c.status for c in calls)
    retry = sum(1 for c in calls if c.status == 503 and c.retry_after)
    slowest = max(calls, key=lambda c: c.seconds, default=None)
    wait = slowest.seconds if slowest else 0.0
    what = f" ({slowest.kind} -> {slowest.status})" if slowest else ""
    shown = ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items(), key=lambda x: str(x[0])))
    print(
        f"{name:<28} {len(calls):>6} requests  {{{shown}}}  503 with Retry-After: {retry}  "
        f"longest wait {wait:.2f} s{what}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each fault")
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--learners", type=int, default=200)
    args = parser.parse_args()

    postgres = PrivatePostgres()
    postgres.start()
    folder = Path(tempfile.mkdtemp(prefix="recsys-faults-"))
    env = {
        **os.environ,
        "RS_DATABASE_URL": postgres.url,
        "RS_MODELS_DIR": str(folder / "models"),
        "OMP_NUM_THREADS": "1",
    }
    server = None
    load = None
    try:
        recsys("init-db", env=env)
        recsys("demo-data", "--learners", str(args.learners), env=env)
        recsys("train-two-tower", "--epochs", "2", env=env)
        server = Server(env, folder, workers=2, threads=4)
        server.wait_ready()
        load = Load(server.url, args.clients, run=uuid.uuid4().hex[:8])
        load.start()
        print(f"private PostgreSQL on 127.0.0.1:{postgres.port}, server on {server.url}, "
              f"{args.clients} clients (event + /home each), {args.seconds:.0f} s per fault")  # fmt: skip

        started = time.monotonic()
        time.sleep(args.seconds)
        _report("warm-up (first fits)", load, started)
        started = time.monotonic()
        time.sleep(args.seconds)
        _report("steady", load, started)

        started = time.monotonic()
        postgres.stop()
        time.sleep(args.seconds)
        _report("database stopped", load, started)
        back = time.monotonic()
        postgres.start()
        recovery = load.first_stored_event_after(back, timeout=60) - back
        time.sleep(1)
        _report("database restarted", load, back)

        started = time.monotonic()
        frozen = postgres.freeze()
        time.sleep(args.seconds)
        PrivatePostgres.thaw(frozen)
        thawed = time.monotonic()
        thaw_recovery = load.first_stored_event_after(thawed, timeout=60) - thawed
        time.sleep(1)  # requests that began during the freeze are counted once they finish
        _report(f"database frozen ({len(frozen)} procs)", load, started, until=thawed)

        started = time.monotonic()
        victim = _workers(server.process.pid)[0]
        os.kill(victim, signal.SIGKILL)
        time.sleep(args.seconds)
        _report("a worker killed", load, started)

        started = time.monotonic()
        corrupted = _corrupt(folder / "models")
        time.sleep(args.seconds)
        _report(f"artifacts corrupted ({corrupted} files)", load, started)
        victim = _workers(server.process.pid)[0]
        os.kill(victim, signal.SIGKILL)  # a fresh worker must load the corrupt artifacts
        started = time.monotonic()
        time.sleep(args.seconds)
        _report("  ... and a fresh worker", load, started)

        load.stop()
        _report("whole run", load, 0.0)
        lost = load.acknowledged_missing(postgres.url)
        print(f"acknowledged events: {len(load.acknowledged())}, lost: {lost}")
        print(f"recovery after the database restarted: {recovery:.2f} s to the first stored event")
        print(f"recovery after the freeze ended: {thaw_recovery:.2f} s to the first stored event")
    finally:
        if load is not None:
            load.stop()
        if server is not None:
            server.stop()
        postgres.destroy()
        shutil.rmtree(folder, ignore_errors=True)


def _corrupt(models: Path) -> int:
    """Flip bytes in every file of every published version (checksums must catch it)."""
    count = 0
    for path in models.rglob("*"):
        if path.is_file() and path.parent.parent.name == "versions":
            data = bytearray(path.read_bytes())
            if data:
                data[len(data) // 2] ^= 0xFF
                path.write_bytes(bytes(data))
                count += 1
    return count


if __name__ == "__main__":
    threading.excepthook = lambda hook: None  # a client thread's broken pipe is not a result
    main()
