"""A database that is down or frozen gets 503 + Retry-After quickly, logged once per outage."""

from __future__ import annotations

import logging
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.e2e.conftest import make_app, read_only

URLS = [
    "/api/v1/courses",
    "/api/v1/courses/course_python_basic",
    "/api/v1/recommendations/home?user_id=u1&strategy=popularity",
    "/api/v1/recommendations/stats/user/u1",
]


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def frozen_port() -> Iterator[int]:
    """A server whose kernel completes the handshake but which never answers: like SIGSTOP."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield int(listener.getsockname()[1])


def test_every_request_gets_503_with_retry_after_while_the_database_is_down(closed_port):
    app = make_app(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port}/gone")
    client = app.test_client()
    for url in URLS:
        response = client.get(url)
        assert response.status_code == 503, (url, response.json)
        assert response.headers["Retry-After"] == "5"
        assert response.json["error"]["code"] == "database_unavailable"
    event = {"user_id": "u1", "course_id": "c1", "event_type": "view"}
    assert client.post("/api/v1/interactions", json=event).status_code == 503
    assert client.get("/readyz").status_code == 503


def test_an_outage_is_one_log_line_not_a_traceback_per_request(closed_port, caplog):
    app = make_app(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port}/gone")
    client = app.test_client()
    with caplog.at_level(logging.INFO):
        for _ in range(20):
            client.get("/api/v1/courses")
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1
    assert "database unavailable" in errors[0].getMessage() and errors[0].exc_info is None


def test_a_worker_starting_while_the_database_is_down_says_so_in_a_whole_sentence(
    closed_port, caplog
):
    """A host whose database did not answer logged, for each worker starting, "could not load
    the published models at start (StorageUnavailable('OperationalError: ...')); the first
    request will": the exception's repr and a sentence cut short."""
    from entrypoints.wsgi import _warm

    app = make_app(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port}/gone")
    with caplog.at_level(logging.WARNING):
        _warm(app)
    (line,) = [r.getMessage() for r in caplog.records if "at start" in r.getMessage()]
    assert line.startswith("could not load the published models at start (OperationalError: ")
    assert line.endswith("); the first request tries again")


def test_a_frozen_database_answers_503_within_seconds_not_after_the_freeze(frozen_port):
    app = make_app(f"postgresql+psycopg://postgres@127.0.0.1:{frozen_port}/frozen")
    client = app.test_client()
    started = time.monotonic()
    response = client.get("/api/v1/courses")
    waited = time.monotonic() - started
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert waited < 15  # the freeze lasts for ever; connect_timeout ends the wait after ~2 s
    started = time.monotonic()
    assert client.get("/readyz").status_code == 503
    assert time.monotonic() - started < 15


def test_a_locked_sqlite_database_is_a_503_after_the_busy_timeout(sqlite_url):
    import sqlite3

    app = make_app(sqlite_url, db_timeout_seconds=0.2)
    assert app.test_client().put("/api/v1/courses/c1", json={"title": "C"}).status_code == 200
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    holder.execute("BEGIN EXCLUSIVE")
    try:
        event = {"user_id": "u1", "course_id": "c1", "event_type": "view"}
        response = app.test_client().post("/api/v1/interactions", json=event)
    finally:
        holder.rollback()
        holder.close()
    assert response.status_code == 503 and response.headers["Retry-After"]


def window_over(app) -> None:  # type: ignore[no-untyped-def]
    """As if the breaker's window had passed since the last failure: the next request tries."""
    breaker = app.container.breaker()
    breaker.clock = lambda: time.monotonic() + breaker.window


def _answers(app, requests: list[tuple[str, str, dict | None]], threads: int = 4):  # type: ignore[no-untyped-def]
    """(status, Retry-After, seconds) of each request, sent by `threads` threads at once, as a
    gunicorn worker's threads take them: what waits holds a thread, and the rest queue."""
    from concurrent.futures import ThreadPoolExecutor

    def send(request: tuple[str, str, dict | None]):  # type: ignore[no-untyped-def]
        method, url, body = request
        started = time.monotonic()
        response = app.test_client().open(url, method=method, json=body)
        return response.status_code, response.headers.get("Retry-After"), time.monotonic() - started

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(send, requests))


#: a learner's view of course c1
VIEW = {"user_id": "u1", "course_id": "c1", "event_type": "view"}


def _one_course(sqlite_url: str):  # type: ignore[no-untyped-def]
    app = make_app(sqlite_url, caught_up=False, db_timeout_seconds=1.0)
    client = app.test_client()
    assert client.put("/api/v1/courses/c1", json={"title": "C"}).status_code == 200
    return app, client


@contextmanager
def _write_locked(sqlite_url: str) -> Iterator[None]:
    """Another connection holding SQLite's write lock meanwhile."""
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.rollback()
        holder.close()


def test_requests_during_a_held_sqlite_write_lock_all_answer_503_within_the_timeout(sqlite_url):
    """Each would wait the lock's timeout in turn, 16 requests over 4 threads 4 s in all; after
    the first failure the rest answer at once, and the database is used again once it is free."""
    app, client = _one_course(sqlite_url)
    with _write_locked(sqlite_url):
        started = time.monotonic()
        answers = _answers(app, [("POST", "/api/v1/interactions", VIEW)] * 16)
        took = time.monotonic() - started
    assert {(status, retry) for status, retry, _ in answers} == {(503, "5")}
    assert took < 2.5, sorted(seconds for *_, seconds in answers)
    time.sleep(1.0)  # the breaker's window: then one request tries, and finds the lock free
    assert client.post("/api/v1/interactions", json=VIEW).status_code == 200
    assert client.post("/api/v1/interactions", json=VIEW).status_code == 200
    app.container.engine().dispose()


def test_reads_between_writes_during_a_held_sqlite_write_lock_do_not_keep_writes_waiting(
    sqlite_url,
):
    """SQLite answers reads during a write lock: each read used to count as the database
    answering again, so every write waited the whole timeout (8 writes, 8 s)."""
    app, client = _one_course(sqlite_url)
    with _write_locked(sqlite_url):
        started = time.monotonic()
        writes = []
        for _ in range(8):
            writes.append(client.post("/api/v1/interactions", json=VIEW).status_code)
            client.get("/api/v1/courses/c1")  # a read, answered or refused
        took = time.monotonic() - started
    assert set(writes) == {503}
    assert took < 4.0, took  # two writes wait the timeout, the rest are refused at once
    time.sleep(1.0)
    assert client.post("/api/v1/interactions", json=VIEW).status_code == 200
    app.container.engine().dispose()


def test_once_a_write_lock_is_gone_reads_taking_the_try_first_do_not_keep_writes_refused(
    sqlite_url,
):
    """After the lock, the one try of each window went to whichever request came first: under a
    steady read load a read, which proves nothing of the lock, so writes were refused for as
    long as the reads went on (a review: 28 s past a 12 s lock, with no end in sight)."""
    app, client = _one_course(sqlite_url)
    with _write_locked(sqlite_url):
        for _ in range(2):
            assert client.post("/api/v1/interactions", json=VIEW).status_code == 503
    window_over(app)
    assert client.get("/api/v1/courses/c1").status_code == 200  # the try, spent on a read
    assert client.post("/api/v1/interactions", json=VIEW).status_code == 200  # tried at once
    assert client.post("/api/v1/interactions", json=VIEW).status_code == 200  # closed
    app.container.engine().dispose()


class FreezableProxy:
    """Forwards a TCP port to PostgreSQL; freeze() stops forwarding while the kernel keeps
    accepting and acknowledging, which is what a SIGSTOPped server looks like to a client."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.frozen = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                while self.frozen.is_set():
                    time.sleep(0.05)
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            sink.close()

    def close(self) -> None:
        self.frozen.clear()
        self.listener.close()


@pytest.mark.postgres
def test_pooled_connections_to_a_frozen_server_are_cut_within_seconds(postgres_url, caplog):
    from sqlalchemy.engine import make_url

    target = make_url(postgres_url)
    proxy = FreezableProxy((target.host or "127.0.0.1", target.port or 5432))
    try:
        app = make_app(target.set(port=proxy.port).render_as_string(hide_password=False))
        client = app.test_client()
        assert client.get("/api/v1/courses").status_code == 200  # the pool holds a live connection
        proxy.frozen.set()
        for url in ("/api/v1/courses", "/readyz"):
            started = time.monotonic()
            response = client.get(url)
            assert response.status_code == 503, url
            assert time.monotonic() - started < 15  # the freeze itself never ends on its own
        proxy.frozen.clear()
        window_over(app)
        with caplog.at_level(logging.INFO):
            assert client.get("/api/v1/courses").status_code == 200  # and it recovers
            # Once no request has failed for a while, the next answer says the outage is over.
            outages = app.extensions["recsys.outages"]
            outages.clock = lambda: time.monotonic() + outages.quiet_seconds
            for _ in range(3):
                assert client.get("/api/v1/courses").status_code == 200
        back = [r.getMessage() for r in caplog.records if "database back" in r.getMessage()]
        assert back == [back[0]] and "(1 request answered 503 over" in back[0]
        app.container.engine().dispose()
    finally:
        proxy.close()


@pytest.mark.postgres
def test_requests_while_the_database_is_frozen_answer_503_within_one_timeout(postgres_url):
    """Before, each waited for the frozen server itself: 16 requests over 4 threads took four
    rounds of connect timeout and watchdog; now the first failure answers the rest at once."""
    from sqlalchemy.engine import make_url

    target = make_url(postgres_url)
    proxy = FreezableProxy((target.host or "127.0.0.1", target.port or 5432))
    try:
        url = target.set(port=proxy.port).render_as_string(hide_password=False)
        app = make_app(url, caught_up=False, db_timeout_seconds=1.0)
        assert app.test_client().get("/api/v1/courses").status_code == 200
        proxy.frozen.set()
        started = time.monotonic()
        answers = _answers(app, [("GET", "/api/v1/courses", None)] * 16)
        took = time.monotonic() - started
        assert {(status, retry) for status, retry, _ in answers} == {(503, "5")}
        assert took < 5, sorted(seconds for *_, seconds in answers)  # one round: about 2 s
        proxy.frozen.clear()
        app.container.engine().dispose()
    finally:
        proxy.close()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_database_recreated_empty_is_a_503_saying_to_run_init_db_not_a_500(request, backend):
    """A restore or failover can leave the server facing a database without its tables: that is
    the database not being there for us (503, Retry-After), not a bug of ours (500), and it
    passes once the schema is back."""
    from adapters.sqlalchemy.migrate import downgrade, upgrade
    from entrypoints.schemas import course_json
    from tests.conftest import CATALOG

    url = request.getfixturevalue(f"{backend}_url")
    app = make_app(url)
    client = app.test_client()
    client.post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    assert client.get(URLS[2]).status_code == 200
    app.container.engine().dispose()
    downgrade(url, "base")
    try:
        for url_path in (*URLS, "/api/v1/recommendations/stats/global"):
            response = client.get(url_path)
            assert response.status_code in (200, 503), (url_path, response.json)
            if response.status_code == 200:  # home answers from memory, and says so
                assert response.json["degraded"] is True
                continue
            assert response.headers["Retry-After"] == "5"
            assert response.json["error"]["code"] == "database_unavailable"
        event = {"user_id": "u1", "course_id": "course_python_basic", "event_type": "view"}
        assert client.post("/api/v1/interactions", json=event).status_code == 503
    finally:
        upgrade(url)
    window_over(app)
    client.post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    assert client.get("/api/v1/courses").status_code == 200
    app.container.engine().dispose()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_the_models_view_answers_from_memory_while_the_database_is_down(request, backend):
    from adapters.sqlalchemy.migrate import downgrade, upgrade
    from entrypoints.schemas import course_json
    from tests.conftest import CATALOG

    url = request.getfixturevalue(f"{backend}_url")
    app = make_app(url, caught_up=False, refresh_seconds=3600)  # as served: loaded, then kept
    client = app.test_client()
    client.post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    app.container.fit_strategies(train_two_tower=None).execute()
    loaded = client.get("/admin/recommendations/models").json
    app.container.engine().dispose()
    downgrade(url, "base")  # what the server sees is a database without its tables
    try:
        response = client.get("/admin/recommendations/models")
    finally:
        app.container.engine().dispose()
        upgrade(url)
    assert response.status_code == 200, response.json
    assert response.json["degraded"] is True and response.json["trainers"] == []
    versions = {m["strategy"]: m.get("version") for m in response.json["models"]}
    assert versions == {m["strategy"]: m.get("version") for m in loaded["models"]}
    assert {m.get("predates_erasure") for m in response.json["models"]} == {None}
    app.container.engine().dispose()


@pytest.mark.postgres
def test_the_models_view_answers_at_once_while_the_database_is_frozen(postgres_url):
    """It asked whether a trainer holds the fitting turn on a connection of its own, past the
    breaker: each call waited the connect timeout (2 s) while /courses answered at once."""
    from sqlalchemy.engine import make_url

    target = make_url(postgres_url)
    proxy = FreezableProxy((target.host or "127.0.0.1", target.port or 5432))
    try:
        url = target.set(port=proxy.port).render_as_string(hide_password=False)
        app = make_app(url, caught_up=False, db_timeout_seconds=1.0, refresh_seconds=3600)
        client = app.test_client()
        assert client.get("/admin/recommendations/models").status_code == 200
        proxy.frozen.set()
        for _ in range(2):  # the second failure opens the breaker
            assert client.get("/api/v1/courses").status_code == 503
        started = time.monotonic()
        answers = [client.get("/admin/recommendations/models") for _ in range(3)]
        took = time.monotonic() - started
        assert [(a.status_code, a.json.get("degraded")) for a in answers] == [(200, True)] * 3
        assert took < 2, took  # before: 6 s, three connect timeouts
        proxy.frozen.clear()
        app.container.engine().dispose()
    finally:
        proxy.close()


@pytest.fixture
def read_only_url(sqlite_url, tmp_path):  # type: ignore[no-untyped-def]
    """The migrated test database, opened read-only (as a read-only mount or file would be)."""
    from entrypoints.schemas import course_json
    from tests.conftest import CATALOG
    from tests.e2e.conftest import make_app as app_on

    app = app_on(sqlite_url, caught_up=False)
    app.test_client().post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    app.container.fit_strategies(train_two_tower=None).execute()
    app.container.engine().dispose()
    path = sqlite_url.removeprefix("sqlite:///")
    return f"sqlite:///file:{path}?mode=ro&uri=true", app.container.config.models_dir()


def test_a_read_only_database_is_not_ready_and_each_refused_write_says_why(read_only_url, caplog):
    url, models = read_only_url
    app = make_app(url, caught_up=False, models_dir=models)
    client = app.test_client()
    assert client.get("/api/v1/courses").status_code == 200  # reads work
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json["error"]["message"].startswith("the database is read-only")
    event = {"user_id": "u1", "course_id": "course_python_basic", "event_type": "view"}
    with caplog.at_level(logging.ERROR):
        assert client.post("/api/v1/interactions", json=event).status_code == 503
    said = [r.getMessage() for r in caplog.records if "database unavailable" in r.getMessage()]
    assert said and "attempt to write a readonly database" in said[0], said
    app.container.engine().dispose()


@pytest.mark.postgres
def test_a_read_only_postgresql_is_not_ready(postgres_url):
    """What a hot standby, or default_transaction_read_only, answers every write with."""

    from entrypoints.schemas import course_json
    from tests.conftest import CATALOG

    app = make_app(postgres_url, caught_up=False)
    client = app.test_client()
    client.post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    app.container.fit_strategies(train_two_tower=None).execute()
    assert "read-only" not in client.get("/readyz").json["error"]["message"]  # two_tower's missing
    read_only(app)
    engine = app.container.engine()

    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json["error"]["message"] == (
        "the database is read-only (ReadOnlySqlTransaction: cannot execute UPDATE in a "
        "read-only transaction): every write would fail"
    )
    engine.dispose()


@pytest.mark.postgres
def test_writes_to_a_read_only_postgresql_are_503s_to_retry_and_home_lists_still_come(
    postgres_url,
):
    """A hot standby refuses writes as SQLite's read-only file does: each a 503 with Retry-After
    (they were 500s), and a home list is served unrecorded, as while the database is down."""

    from entrypoints.schemas import course_json
    from tests.conftest import CATALOG

    app = make_app(postgres_url, caught_up=False)
    client = app.test_client()
    client.post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    read_only(app)
    engine = app.container.engine()

    event_ = {"user_id": "u1", "course_id": "course_python_basic", "event_type": "view"}
    refused = client.post("/api/v1/interactions", json=event_)
    assert refused.status_code == 503 and refused.headers["Retry-After"], refused.json
    course = client.put("/api/v1/courses/course_new", json={"title": "New"})
    assert course.status_code == 503, course.json
    home = client.get("/api/v1/recommendations/home?user_id=u1")
    assert home.status_code == 200 and home.json["degraded"] is True, home.json
    assert "recommendation_id" not in home.json
    assert client.get("/api/v1/courses").status_code == 200  # reads still work
    engine.dispose()


@pytest.mark.postgres
def test_a_query_the_server_cancels_at_its_timeout_does_not_open_the_breaker(postgres_url):
    """A slow query (a wide analytics range) that PostgreSQL cancels at statement_timeout is a
    503 for its request, but the server answered: the worker's other requests go on."""
    from sqlalchemy import text

    from adapters.sqlalchemy.breaker import Breaker
    from adapters.sqlalchemy.engine import build_engine
    from application.ports import StorageUnavailable

    breaker = Breaker(window=60)
    engine = build_engine(postgres_url, timeout=0.2, breaker=breaker)
    try:
        for _ in range(2):
            with pytest.raises(StorageUnavailable, match="QueryCanceled"):
                with engine.connect() as connection:
                    connection.execute(text("SELECT pg_sleep(1)"))
        breaker.admit()  # not open
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_writes_waiting_for_a_table_locked_whole_answer_503_at_once_after_the_second(postgres_url):
    """PostgreSQL's lock_timeout equalled its statement_timeout, whose timer starts first: a
    wait for a lock (an ALTER, a VACUUM FULL, a LOCK TABLE by hand) read as one slow query, which
    the breaker ignores, so 16 writes over 4 threads waited the timeout each, 4 s in all."""
    import psycopg

    from entrypoints.schemas import course_json
    from tests.conftest import CATALOG

    app = make_app(postgres_url, caught_up=False, db_timeout_seconds=1.0)
    client = app.test_client()
    client.post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    event_ = {"user_id": "u1", "course_id": "course_python_basic", "event_type": "view"}
    dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as holder:
        holder.execute("LOCK TABLE interactions IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        answers = _answers(app, [("POST", "/api/v1/interactions", event_)] * 16)
        took = time.monotonic() - started
        holder.rollback()
    assert {(status, retry) for status, retry, _ in answers} == {(503, "5")}
    assert took < 2.5, sorted(seconds for *_, seconds in answers)
    window_over(app)
    assert client.post("/api/v1/interactions", json=event_).status_code == 200
    app.container.engine().dispose()


def test_a_list_served_while_a_write_lock_holds_is_answered_without_an_id_to_credit(sqlite_url):
    """The learner's history is read (SQLite answers reads during a write lock), the list cannot
    be recorded: it is served, said degraded, and names no recommendation_id that events would
    credit in vain."""
    app, client = _one_course(sqlite_url)
    assert client.post("/api/v1/interactions", json=VIEW).status_code == 200
    with _write_locked(sqlite_url):
        response = client.get("/api/v1/recommendations/home?user_id=u1&strategy=popularity")
    assert response.status_code == 200, response.json
    assert response.json["degraded"] is True
    assert "recommendation_id" not in response.json
    assert [item["course_id"] for item in response.json["items"]] == ["c1"]
    window_over(app)
    stats = client.get("/api/v1/recommendations/stats/user/u1").json
    assert stats["num_recommendations"] == 0


@pytest.mark.postgres
def test_connections_cut_together_under_load_do_not_open_the_breaker(postgres_url):
    """pg_terminate_backend on every connection (a failover of a pooler, an operator's cleanup)
    fails each request in flight at once, but the server answers: the next request reconnects.
    The requests cut together were one blip, not a second failure: opening the breaker made each
    worker answer 503 to everyone for its whole window after the cut."""
    from sqlalchemy import text

    from adapters.sqlalchemy.breaker import Breaker
    from adapters.sqlalchemy.engine import build_engine
    from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
    from application.ports import StorageUnavailable

    breaker = Breaker(window=60)
    engine = build_engine(postgres_url, timeout=3, breaker=breaker)
    started, cut = threading.Barrier(4), threading.Event()
    failures: list[BaseException] = []

    def request_in_flight() -> None:
        try:
            with SqlAlchemyUnitOfWork(engine, breaker) as uow:
                uow.connection.execute(text("SELECT 1"))
                started.wait()
                cut.wait()
                uow.connection.execute(text("SELECT 1"))
        except StorageUnavailable as error:
            failures.append(error)

    threads = [threading.Thread(target=request_in_flight) for _ in range(3)]
    try:
        for thread in threads:
            thread.start()
        started.wait()
        with engine.connect() as other:
            other.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND backend_type = 'client backend' AND application_name = ''"
                    " AND state = 'idle in transaction'"
                )
            )
        cut.set()
        for thread in threads:
            thread.join()
        assert len(failures) == 3
        with SqlAlchemyUnitOfWork(engine, breaker) as uow:  # not refused: the breaker is closed
            assert uow.connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize("store", ["folder", "database"])
def test_the_bandit_chooses_and_is_shown_from_memory_while_the_database_is_down(sqlite_url, store):
    """With the models in the database (RS_MODELS_STORE=database), the bandit's look at its
    published state every RS_REFRESH_SECONDS asked the database: during an outage strategy=auto
    answered 503 instead of a degraded list, and the admin view of the bandit 503 too."""
    from adapters.sqlalchemy.migrate import downgrade, upgrade
    from entrypoints.schemas import course_json
    from tests.conftest import CATALOG

    app = make_app(sqlite_url, caught_up=False, refresh_seconds=3600, models_store=store)
    client = app.test_client()
    client.post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    app.container.fit_strategies(train_two_tower=None).execute()
    home = "/api/v1/recommendations/home?user_id=u1&strategy=auto"
    assert client.get(home).status_code == 200
    app.container.bandit()._checked_at = None  # RS_REFRESH_SECONDS later
    app.container.engine().dispose()
    downgrade(sqlite_url, "base")  # what the server sees is a database without its tables
    try:
        served = client.get(home)
        shown = client.get("/admin/recommendations/bandit")
    finally:
        app.container.engine().dispose()
        upgrade(sqlite_url)
    assert served.status_code == 200 and served.json["degraded"] is True, served.json
    assert shown.status_code == 200, shown.json
    app.container.engine().dispose()


@pytest.mark.postgres
def test_a_trainer_kept_waiting_by_locks_still_writes_its_beat_to_another_table(postgres_url):
    """Two lock waits on a day's figures (a VACUUM FULL, a migration) opened the trainer's own
    breaker, and its beat to the trainers table, which nothing locked, was refused at once:
    the cycle ended "database unavailable" though its fits were published."""
    from datetime import UTC, datetime

    import psycopg

    from application.ports import StorageUnavailable
    from entrypoints.cli.trainer import without_breaker
    from entrypoints.config import load_settings
    from entrypoints.container import Container

    container = Container()
    settings = {"RS_DATABASE_URL": postgres_url, "RS_DB_TIMEOUT_SECONDS": "1"}
    container.config.from_dict(load_settings(settings))
    without_breaker(container)
    dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(dsn) as holder:
            holder.execute("LOCK TABLE daily_figures_counted IN ACCESS EXCLUSIVE MODE")
            for _ in range(2):
                with pytest.raises(StorageUnavailable), container.uow() as uow:
                    uow.stats.days_to_store()
            with container.uow() as uow:  # another table: answered, not refused at once
                uow.trainers.recent(datetime.now(UTC))
            holder.rollback()
    finally:
        container.engine().dispose()
