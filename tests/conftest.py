"""Shared fixtures: storage backends (memory, SQLite, PostgreSQL), a small catalog, an app."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from adapters.in_memory import InMemoryStore, InMemoryUnitOfWork
from adapters.sqlalchemy.engine import build_engine
from adapters.sqlalchemy.migrate import schema_problem, upgrade
from adapters.sqlalchemy.reset import delete_everything
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.ports import UnitOfWork
from domain.model import Course, CourseId, EventType, Interaction, Level, UserId

SERVER_URL = os.environ.get(
    "RS_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _own_database(url: str) -> str:
    """The database this process's tests use: the named one, or under pytest-xdist one per
    worker beside it (test_gw0, test_gw1, ...), so that workers never clean each other's rows."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    server = make_url(url)
    return server.set(database=f"{server.database}_{worker}").render_as_string(hide_password=False)


POSTGRES_URL = _own_database(SERVER_URL)
IN_CI = os.environ.get("CI", "").lower() == "true"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _postgres_or_skip() -> Engine:
    engine = build_engine(POSTGRES_URL)
    try:
        if POSTGRES_URL != SERVER_URL:
            _create_empty(POSTGRES_URL)
        with engine.connect():
            pass
    except Exception as error:  # noqa: BLE001
        engine.dispose()
        message = f"PostgreSQL at RS_TEST_DATABASE_URL is unreachable: {type(error).__name__}"
        if IN_CI:
            pytest.fail(message + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(message)
    return engine


def _create_empty(url: str) -> None:
    """A worker's database, made again at each run: one left migrated by another checkout
    would claim a revision this schema may not have (.ci/run does the same for `test`)."""
    _drop(url, then_create=True)


def _drop(url: str, then_create: bool = False) -> None:
    import psycopg
    from psycopg import sql

    # quoted: the name is the one RS_TEST_DATABASE_URL gives (a hyphen, capitals), with the worker's
    name = sql.Identifier(str(make_url(url).database))
    with psycopg.connect(_server_dsn(), autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        if then_create:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def _server_dsn() -> str:
    return make_url(SERVER_URL).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    engine = _postgres_or_skip()
    upgrade(POSTGRES_URL)
    yield engine
    engine.dispose()
    if POSTGRES_URL != SERVER_URL:
        _drop(POSTGRES_URL)


@pytest.fixture
def icu_postgres_url(postgres_engine):  # type: ignore[no-untyped-def]
    """A migrated PostgreSQL database ordering text by US English (as initdb and the Docker
    images set up by default), not byte by byte as the test database does."""
    import psycopg

    server = make_url(POSTGRES_URL)
    # named after the test database: runs on separate test databases do not drop each other's
    icu_database = f"{server.database}_icu_en_us"
    dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {icu_database}")
        conn.execute(
            f"CREATE DATABASE {icu_database} TEMPLATE template0 LOCALE_PROVIDER icu "
            "ICU_LOCALE 'en-US' LOCALE 'C.utf8'"
        )
    url = server.set(database=icu_database).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {icu_database} WITH (FORCE)")


@pytest.fixture
def limited_role(postgres_url: str) -> Iterator[Callable[[str], tuple[str, str]]]:
    """Makes roles that may use every table of the PostgreSQL test database but are refused
    `revoked` (ALL, or INSERT, UPDATE, DELETE) on the models' ones: an operator's role granted
    its tables before migration 0014 made those, or granted SELECT only. Each call gives the URL
    logging in as a new role, and the role's name."""
    import uuid

    import psycopg

    server = make_url(postgres_url)
    dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
    made: list[str] = []

    def make(revoked: str) -> tuple[str, str]:
        role = f"no_models_{uuid.uuid4().hex[:8]}"
        made.append(role)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {role} LOGIN")
            conn.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
            conn.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
            conn.execute(
                f"REVOKE {revoked} ON artifact_versions, artifact_files, artifact_current "
                f"FROM {role}"
            )
        return server.set(username=role).render_as_string(hide_password=False), role

    yield make
    with psycopg.connect(dsn, autocommit=True) as conn:
        for role in made:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (role,),
            )
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'recsys.db'}"
    upgrade(url)
    return url


def _clean(engine: Engine) -> None:
    """Empties the database, migrated to this version first if a test took it down (to no
    schema, or an older revision) and could not bring it back: one teardown timed out on a busy
    machine, and every later PostgreSQL test of that worker failed on tables missing."""
    with engine.connect() as connection:
        taken_down = schema_problem(connection) is not None
    if taken_down:
        upgrade(engine.url.render_as_string(hide_password=False))
    uow = SqlAlchemyUnitOfWork(engine)
    with uow:
        delete_everything(uow.connection)
        uow.commit()


@pytest.fixture
def postgres_url(postgres_engine: Engine) -> Iterator[str]:
    _clean(postgres_engine)
    yield POSTGRES_URL
    _clean(postgres_engine)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def uow_factory(request) -> Iterator[Callable[[], UnitOfWork]]:  # type: ignore[no-untyped-def]
    """A factory of units of work over each storage backend in turn."""
    if request.param == "memory":
        store = InMemoryStore()
        yield lambda: InMemoryUnitOfWork(store)
        return
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    engine = build_engine(url)
    yield lambda: SqlAlchemyUnitOfWork(engine)
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request) -> str:  # type: ignore[no-untyped-def]
    """A migrated, empty SQL database: SQLite, then PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")  # type: ignore[no-any-return]


def course(
    course_id: str,
    title: str | None = None,
    category: str = "Programming",
    level: Level = Level.BEGINNER,
    tags: tuple[str, ...] = (),
    prerequisites: tuple[str, ...] = (),
    active: bool = True,
    description: str = "",
) -> Course:
    return Course(
        CourseId(course_id),
        title or course_id.replace("_", " ").title(),
        description,
        category,
        level,
        tags,
        tuple(CourseId(p) for p in prerequisites),
        active,
    )


def event(
    user: str,
    course_id: str,
    kind: str = "view",
    minutes: float = 0,
    event_id: str | None = None,
    recommendation_id: str | None = None,
) -> Interaction:
    moment = NOW + timedelta(minutes=minutes)
    return Interaction(
        event_id or f"{user}-{course_id}-{kind}-{minutes}",
        UserId(user),
        CourseId(course_id),
        EventType(kind),
        moment,
        recommendation_id,  # type: ignore[arg-type]
    )


CATALOG = [
    course(
        "course_python_basic",
        "Python Basics",
        tags=("python", "programming"),
        description="Learn Python programming from scratch",
    ),
    course(
        "course_python_intermediate",
        "Intermediate Python",
        level=Level.INTERMEDIATE,
        tags=("python", "programming"),
        prerequisites=("course_python_basic",),
        description="Python programming patterns and projects",
    ),
    course(
        "course_sql_basic",
        "SQL Basics",
        "Data Science",
        tags=("sql", "databases"),
        description="Query databases with SQL",
    ),
    course(
        "course_ml_basic",
        "Machine Learning Basics",
        "Data Science",
        tags=("machine-learning", "python"),
        description="Machine learning models with Python",
    ),
    course(
        "course_spanish_basic",
        "Spanish Basics",
        "Languages",
        tags=("spanish", "language"),
        description="Speak Spanish in everyday conversation",
    ),
    course(
        "course_old_cobol",
        "Legacy COBOL",
        "Programming",
        tags=("cobol",),
        active=False,
        description="Programming mainframes",
    ),
]
