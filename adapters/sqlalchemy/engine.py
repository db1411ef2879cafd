"""Engine construction: SQLite gets WAL, foreign keys and a busy timeout; PostgreSQL a sane pool.

Both bound every wait (connect, lock, statement) by a few seconds, and a database that is down
or frozen surfaces as StorageUnavailable, which the API answers with 503.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import URL, ExceptionContext, make_url

from adapters.sqlalchemy.breaker import Breaker
from adapters.sqlalchemy.watchdog import WATCHDOG
from application.ports import LockWaitTimedOut, StorageUnavailable, UnusableDatabase

DEFAULT_TIMEOUT_SECONDS = 3.0
#: A pooled connection must answer SELECT 1 within this, or it is replaced. Not tighter: a worker
#: busy fitting holds the GIL, and a missed deadline there would be a false outage.
PING_SECONDS = 2.0
#: SQLite errors that mean "try again later", not "this statement is wrong".
_SQLITE_UNAVAILABLE = ("locked", "busy", "unable to open", "disk i/o")


def build_engine(
    url: str,
    timeout: float | None = None,
    create: bool = False,
    breaker: Breaker | None = None,
    statement_timeout: float | None = None,
) -> Engine:
    """`create`: a SQLite file missing (and its folder) is made, which only migrating asks for:
    any other command on a mistyped path would make an empty database there and carry on with
    it as if it were the real one (a trainer would publish models of nothing). `breaker` is
    told of every outage (see adapters.sqlalchemy.breaker). `statement_timeout`: how long a
    PostgreSQL statement may run, when not `timeout` (a migration rewriting a large table)."""
    timeout = timeout or DEFAULT_TIMEOUT_SECONDS
    parsed = make_url(url)
    unusable: Callable[[ExceptionContext], None] | None = None
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite(parsed, timeout, create)
        unusable = _unusable_sqlite(parsed.database or "", create)
    else:
        engine = _postgres(parsed, timeout, statement_timeout or timeout)
        unusable = _unusable_postgres(parsed)

    @event.listens_for(engine, "handle_error")
    def classify(context: ExceptionContext) -> None:
        # Ctrl-C (or a thread told to exit) inside a statement: SQLAlchemy reports it as a
        # disconnect, but the operator stopped the work, the database did not fail.
        if not isinstance(context.original_exception, Exception):
            return
        try:
            if unusable is not None:
                unusable(context)
            _unavailable(context)
        except StorageUnavailable as error:
            # A statement the server cancelled at its timeout says the server answers: one slow
            # query (a wide analytics range) must not make a healthy worker refuse everything.
            cancelled = type(context.original_exception).__name__ == "QueryCanceled"
            if breaker is not None and not cancelled:
                breaker.failed(str(error), lock=_lock_wait(context))
            raise

    return engine


def _sqlite(url: URL, timeout: float, create: bool) -> Engine:
    path = url.database or ""
    if path and path != ":memory:" and "uri" not in url.query:  # an operator's own URI stays
        if create:
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:  # a file where a folder should be, a folder not ours
                raise UnusableDatabase(
                    f"cannot create the folder of the SQLite database {path}: {error.strerror}"
                ) from None
        # mode=rw: SQLite would otherwise create the file at the first connection
        url = url.set(
            database=f"file:{quote(path)}",
            query={**url.query, "mode": "rwc" if create else "rw", "uri": "true"},
        )
    # pool_timeout: a request waiting for a pooled connection waits no longer than for the lock
    engine = create_engine(url, connect_args={"timeout": timeout}, pool_timeout=timeout)
    event.listen(engine, "connect", _sqlite_pragmas(timeout))
    return engine


def _unusable_sqlite(path: str, create: bool) -> Callable[[ExceptionContext], None]:
    """A SQLite path that holds no database is said as such: waiting never mends it."""

    def check(context: ExceptionContext) -> None:
        text = str(context.original_exception).lower()
        if "unable to open" in text and not Path(path).exists() and create:
            raise UnusableDatabase(
                f"cannot create the SQLite database {path}: its folder is not writable"
            ) from context.original_exception
        if "unable to open" in text and not Path(path).exists():
            raise UnusableDatabase(
                f"there is no SQLite database at {path}: `recsys init-db` creates one "
                "(or correct RS_DATABASE_URL)"
            ) from context.original_exception
        if "unable to open" in text and Path(path).is_dir():
            raise UnusableDatabase(
                f"{path} is a directory, not an SQLite database"
            ) from context.original_exception
        if "file is not a database" in text:
            raise UnusableDatabase(
                f"{path} is not an SQLite database"
            ) from context.original_exception

    return check


#: what a PostgreSQL server answers a connection to a database or as a role it does not have
_NO_SUCH = re.compile(r'FATAL:\s+(database|role) "([^"]*)" does not exist')


#: what libpq says of a connection option it cannot use (?sslmode=bogus, ?foo=bar, ?keepalives=x)
_INVALID_OPTION = re.compile(
    r'invalid (?:\w+ value: "[^"]*"|connection option "[^"]*"'
    r'|integer value "[^"]*" for connection option "[^"]*")'
)


#: what libpq says when the server answers that it has no SSL and sslmode requires it (require,
#: verify-ca, verify-full): the server answered, and will answer the same every time
_NO_SSL = "server does not support SSL, but SSL was required"


def _unusable_postgres(url: URL) -> Callable[[ExceptionContext], None]:
    """A PostgreSQL database or role the server does not have, a connection option libpq
    cannot use, or SSL required of a server without it, is said as such: waiting never mends
    it (a database dropped while the service runs is one too, until it is made again)."""

    def check(context: ExceptionContext) -> None:
        text = str(context.original_exception)
        # only when connecting: a statement's error may echo a value holding the same words
        connecting = context.statement is None
        invalid = _INVALID_OPTION.search(text) if connecting else None
        if invalid is not None:
            raise UnusableDatabase(
                f"a PostgreSQL connection option is invalid ({invalid.group(0)}): "
                "correct RS_DATABASE_URL"
            ) from context.original_exception
        if connecting and _NO_SSL in text:
            raise UnusableDatabase(
                f"the PostgreSQL server does not support SSL, and {_sslmode(url)} asks for it: "
                "correct RS_DATABASE_URL (sslmode=prefer uses SSL where the server has it) "
                "or enable SSL on the server"
            ) from context.original_exception
        found = _NO_SUCH.search(text)
        if found is None:
            return
        kind, name = found.groups()
        mend = f"`createdb {name}`, then `recsys init-db`" if kind == "database" else "CREATE ROLE"
        raise UnusableDatabase(
            f"the PostgreSQL server has no {kind} {name!r}: make it ({mend}) "
            "or correct RS_DATABASE_URL"
        ) from context.original_exception

    return check


def _sslmode(url: URL) -> str:
    """Where the sslmode that asked for SSL was set, as the operator wrote it."""
    if "sslmode" in url.query:
        return f"sslmode={url.query['sslmode']}"
    if os.environ.get("PGSSLMODE"):
        return f"PGSSLMODE={os.environ['PGSSLMODE']}"
    return "the connection's sslmode"  # a pg_service.conf service, or requiressl=1


def on_answer(engine: Engine, callback: Callable[[], None]) -> None:
    """Calls `callback` after every statement the database answers (so a web worker can say
    when an outage is over)."""
    event.listen(engine, "after_cursor_execute", lambda *_: callback())


#: PostgreSQL's lock_timeout, of its statement_timeout when the two would be one
LOCK_SHARE = 0.9


#: a server parameter set in libpq's options: `-c name=value`, `-cname=value`, `--name=value`
_PARAMETER = re.compile(r"(?:^|\s)(?:-c\s*|--)([\w.-]+)=")


def _options(url: URL, statement: float, lock: float) -> str:
    """The URL's own libpq options (search_path, application_name...), or PGOPTIONS when it has
    none (libpq reads PGOPTIONS only when no options are given, and ours always are), then the
    service's timeouts but those the operator's set: the server takes the last value given.
    statement_timeout stays ours: the watchdog ends a statement a second after it, whatever the
    server was told (settings refuse a URL setting it, for RS_DB_TIMEOUT_SECONDS)."""
    given = url.query.get("options") or os.environ.get("PGOPTIONS", "")
    theirs = " ".join([given] if isinstance(given, str) else given)
    named = {name.lower().replace("-", "_") for name in _PARAMETER.findall(theirs)}
    ours = [f"-c statement_timeout={int(statement * 1000)}"]
    if "lock_timeout" not in named:
        # under the statement's own: at the same value the statement's timer, started first,
        # always fired, and a wait for a lock (a table locked whole) read as one slow query,
        # which the breaker ignores, so every write waited the whole timeout in turn
        lock = min(lock, statement * LOCK_SHARE)
        ours.append(f"-c lock_timeout={max(1, int(lock * 1000))}")
    return " ".join([theirs, *ours]).strip()


def _positive(seconds: str | None) -> bool:
    """Whether psycopg reads `seconds` as a connect_timeout (whole seconds of any number; 0, a
    negative or no number: none, a connect then waits up to 130 s)."""
    try:
        return seconds is not None and int(float(seconds)) > 0
    except (ValueError, OverflowError):  # "inf" too
        return False


def _postgres(url: URL, timeout: float, statement: float) -> Engine:
    connect_args: dict[str, Any] = {"options": _options(url, statement, timeout)}
    if "connect_timeout" not in url.query and not _positive(os.environ.get("PGCONNECT_TIMEOUT")):
        # the URL's own holds (settings refuse a URL's 0), or PGCONNECT_TIMEOUT's
        # libpq counts connect_timeout in whole seconds, at least 2; a stale pooled connection
        # costs a ping and a connect, so together they stay within timeout + 1.
        connect_args["connect_timeout"] = max(2, round(timeout) - 1)
    engine = create_engine(
        url, pool_size=5, max_overflow=10, pool_timeout=timeout, connect_args=connect_args
    )
    # statement_timeout is enforced by the server, so a frozen server never enforces it: the
    # watchdog cuts the client's socket a second later instead.

    @event.listens_for(engine, "before_cursor_execute")
    def arm(conn, cursor, *_: Any) -> None:  # type: ignore[no-untyped-def]
        WATCHDOG.arm(cursor.connection.fileno(), statement + 1, cursor.connection)

    @event.listens_for(engine, "after_cursor_execute")
    def disarm(conn, cursor, *_: Any) -> None:  # type: ignore[no-untyped-def]
        WATCHDOG.disarm(cursor.connection.fileno())

    @event.listens_for(engine, "handle_error")
    def disarm_failed(context: ExceptionContext) -> None:
        cursor = getattr(context, "cursor", None)  # absent when connecting failed
        if cursor is not None:
            WATCHDOG.forget(cursor.connection)  # closed or not: its fd may be reused at once

    @event.listens_for(engine.pool, "checkout")
    def ping(dbapi_connection, _record, _proxy) -> None:  # type: ignore[no-untyped-def]
        """pool_pre_ping without a bound would hang on a frozen server: ping under the watchdog."""
        fd = dbapi_connection.fileno()
        WATCHDOG.arm(fd, PING_SECONDS, dbapi_connection)
        try:
            dbapi_connection.autocommit = True  # no transaction left open by the ping
            dbapi_connection.execute("SELECT 1")
            dbapi_connection.autocommit = False
        except Exception as error:
            raise exc.DisconnectionError(f"stale connection: {error}") from error
        finally:
            WATCHDOG.disarm(fd)

    return engine


def _unavailable(context: ExceptionContext) -> None:
    """Connection failures, timeouts, locks and a database without our tables (recreated empty by
    a restore or a failover) become StorageUnavailable; real bugs stay bugs."""
    original = context.original_exception
    if context.is_disconnect or isinstance(original, exc.DisconnectionError):
        raise StorageUnavailable(_describe(original)) from original
    text = str(original).lower()
    if type(original).__name__ == "UndefinedTable" or "no such table" in text:
        raise StorageUnavailable(
            f"{_describe(original)}; the database has no schema: run `recsys init-db`"
        ) from original
    if context.dialect is not None and context.dialect.name == "sqlite":
        if isinstance(context.sqlalchemy_exception, exc.OperationalError) and any(
            marker in text for marker in _SQLITE_UNAVAILABLE
        ):
            raise StorageUnavailable(_describe(original)) from original
        return
    # psycopg's OperationalError: refused or lost connections, statement and lock timeouts,
    # server shutting down. Its data, integrity and programming errors are other classes.
    if type(original).__name__ == "LockNotAvailable":
        raise LockWaitTimedOut(_describe(original)) from original
    if type(original).__name__ in {"OperationalError", "QueryCanceled"} or (
        isinstance(context.sqlalchemy_exception, exc.OperationalError)
    ):
        raise StorageUnavailable(_describe(original)) from original


def _lock_wait(context: ExceptionContext) -> bool:
    """Whether the database answered but a lock kept the work waiting: SQLite busy or locked,
    PostgreSQL's lock_timeout."""
    original = context.original_exception
    text = str(original).lower()
    return type(original).__name__ == "LockNotAvailable" or (
        context.dialect is not None
        and context.dialect.name == "sqlite"
        and ("locked" in text or "busy" in text)
    )


def _describe(error: BaseException) -> str:
    first_line = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {first_line[:200]}"


def _sqlite_pragmas(timeout: float):  # type: ignore[no-untyped-def]
    def apply(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode, NORMAL syncs at checkpoints, not at every commit: a crash of the process
        # loses nothing committed (only a power cut can lose the last transactions), and a
        # recorded slate costs microseconds instead of an fsync.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        cursor.close()

    return apply
