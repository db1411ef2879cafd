"""Closed-loop clients for faults.py: each logs one event and asks for a home slate, in a loop,
and remembers every event the server acknowledged (200)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from sqlalchemy.engine import make_url


@dataclass(frozen=True, slots=True)
class Call:
    kind: str
    started: float
    seconds: float
    status: int | str
    retry_after: bool
    event_id: str | None = None


class Load:
    def __init__(self, base: str, clients: int, run: str) -> None:
        self.base = base
        self.clients = clients
        self.run = run
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.courses = self._catalog()

    def _catalog(self) -> list[str]:
        with urllib.request.urlopen(f"{self.base}/api/v1/courses?limit=50", timeout=30) as reply:
            return [c["course_id"] for c in json.load(reply)["items"] if c["active"]]

    def start(self) -> None:
        for number in range(self.clients):
            thread = threading.Thread(target=self._client, args=(number,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _client(self, number: int) -> None:
        sequence = 0
        while not self.stopping.is_set():
            sequence += 1
            user = f"load-{number}-{sequence % 50}"
            event_id = f"{self.run}-{number}-{sequence}"
            event = {
                "event_id": event_id,
                "user_id": user,
                "course_id": self.courses[sequence % len(self.courses)],
                "event_type": "view",
                "occurred_at": datetime.now(UTC).isoformat(),
            }
            self._call("event", "POST", "/api/v1/interactions", event, event_id)
            self._call("home", "GET", f"/api/v1/recommendations/home?user_id={user}", None)

    def _call(self, kind: str, method: str, path: str, body: object, event_id: str | None = None):  # type: ignore[no-untyped-def]
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        started = time.monotonic()
        retry_after = False
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                status: int | str = reply.status
                reply.read()
        except urllib.error.HTTPError as error:
            status = error.code
            retry_after = error.headers.get("Retry-After") is not None
            error.read()
        except (OSError, urllib.error.URLError) as error:
            status = type(error).__name__
            time.sleep(0.05)  # a refused connection returns at once: do not spin
        with self.lock:
            self.calls.append(
                Call(kind, started, time.monotonic() - started, status, retry_after, event_id)
            )

    def snapshot(self) -> list[Call]:
        with self.lock:
            return list(self.calls)

    def acknowledged(self) -> set[str]:
        return {c.event_id for c in self.snapshot() if c.kind == "event" and c.status == 200}  # type: ignore[misc]

    def first_stored_event_after(self, moment: float, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for call in self.snapshot():
                if call.kind == "event" and call.status == 200 and call.started >= moment:
                    return call.started + call.seconds
            time.sleep(0.05)
        return float("nan")

    def acknowledged_missing(self, url: str) -> int:
        wanted = self.acknowledged()
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn) as conn:
            stored = {
                row[0]
                for row in conn.execute(
                    "SELECT event_id FROM interactions WHERE event_id LIKE %s", (f"{self.run}-%",)
                )
            }
        return len(wanted - stored)
