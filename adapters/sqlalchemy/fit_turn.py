"""The fitting turn on the shared database: PostgreSQL's advisory lock, held by a connection of
its own for as long as the fit lasts (a trainer that dies closes it, and the lock goes with it);
on SQLite, which one host reaches, a lock on a file beside the database."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

from sqlalchemy import Connection, Engine, text

from application.ports import FitTurn, StorageUnavailable

#: the advisory lock key of the fitting turn (any number no other lock uses)
FIT_LOCK = 0x7265637379730F17
#: How soon the server finds the turn's holder gone when its host is (a power cut, a network
#: cut: no process is left to close the connection): it probes the connection after 30 s
#: without traffic, then every 10 s, and ends the session, and with it the lock, after 3
#: unanswered probes. The server's defaults (2 h, then 9 probes 75 s apart) held the turn from
#: every other trainer for 2 h 11 min.
KEEPALIVE = {"tcp_keepalives_idle": 30, "tcp_keepalives_interval": 10, "tcp_keepalives_count": 3}


class SqlFitTurn(FitTurn):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextlib.contextmanager
    def taken(self) -> Iterator[bool]:
        if self.engine.dialect.name == "postgresql":
            with self._advisory() as ours:
                yield ours
        elif (path := _sqlite_path(self.engine.url.database)) is None:
            yield True  # a database of this process alone
        else:
            with _file_lock(f"{path}.fit-turn") as ours:
                yield ours

    def held(self) -> bool:
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect() as connection:
                return bool(connection.execute(_HELD, _KEY_PARTS).scalar_one())
        if (path := _sqlite_path(self.engine.url.database)) is None:
            return False
        try:
            with open(f"{path}.fit-turn") as file:
                fcntl.flock(file, fcntl.LOCK_SH | fcntl.LOCK_NB)  # shared: held by none but us
                fcntl.flock(file, fcntl.LOCK_UN)
        except FileNotFoundError:  # no trainer ever took it
            return False
        except OSError:  # held (BlockingIOError), or it cannot be told: no trainer is called gone
            return True
        return False

    @contextlib.contextmanager
    def _advisory(self) -> Iterator[bool]:
        with self.engine.connect() as connection:
            ours = False
            try:
                for name, value in KEEPALIVE.items():  # for this session (a pooled one keeps them)
                    connection.execute(
                        text("SELECT set_config(:name, :value, false)"),
                        {"name": name, "value": str(value)},
                    )
                ours = connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": FIT_LOCK}
                ).scalar_one()
                connection.commit()  # the lock is the session's: no transaction left open
                yield ours
            finally:
                if ours and not _unlocked(connection):
                    # the pool's reset (a rollback) would keep the lock on a pooled session, and
                    # every trainer would stand by: closed, the session takes the lock with it
                    connection.invalidate()


#: a bigint advisory lock as pg_locks lists it: its high and low 32 bits, objsubid 1
_KEY_PARTS = {"high": FIT_LOCK >> 32, "low": FIT_LOCK & 0xFFFFFFFF}
_HELD = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND classid = CAST(:high AS oid) AND objid = CAST(:low AS oid) AND objsubid = 1 "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))"
)


def _unlocked(connection: Connection) -> bool:
    try:
        done = connection.execute(
            text("SELECT pg_advisory_unlock(:key)"), {"key": FIT_LOCK}
        ).scalar_one()
        connection.commit()
    except StorageUnavailable:
        return False
    return bool(done)


@contextlib.contextmanager
def _file_lock(path: str) -> Iterator[bool]:
    with open(path, "a") as held:
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)


def _sqlite_path(database: str | None) -> str | None:
    """The file of a SQLite database, also named as a URI (`file:...`, as build_engine does)."""
    if database and database.startswith("file:"):
        database = unquote(urlsplit(database).path)
    return None if database in (None, "", ":memory:") else database
