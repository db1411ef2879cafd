"""An app on a migrated SQLite or PostgreSQL database, with the small test catalog loaded."""

from __future__ import annotations

import tempfile

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from application.ports import StorageUnavailable
from application.use_cases.fit_strategies import EmptyCatalog
from entrypoints.api import create_app
from entrypoints.cli import cli
from entrypoints.schemas import course_json
from tests.conftest import CATALOG


def catch_up(app) -> None:  # type: ignore[no-untyped-def]
    """One trainer cycle: fit and publish what the data has outdated (two_tower is trained only
    where a test trains it)."""
    try:
        app.container.fit_strategies(train_two_tower=None).execute()
    except (StorageUnavailable, EmptyCatalog):
        pass  # a trainer that cannot reach the database, or finds no courses, publishes nothing


class CaughtUpClient(FlaskClient):
    """A client of a service whose trainer keeps up: reads run after a trainer cycle."""

    def open(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        path = str(args[0]) if args else str(kwargs.get("path", ""))
        if kwargs.get("method", "GET") == "GET" and path.startswith(
            ("/api/v1/recommendations", "/admin/recommendations")
        ):
            catch_up(self.application)
        return super().open(*args, **kwargs)


#: where apps made without a models_dir publish, each in its own folder; removed when the run
#: ends (a folder left by each app, about 700 a run, filled /tmp run after run)
_MODELS = tempfile.TemporaryDirectory(prefix="recsys-models-")


def make_app(database_url: str, caught_up: bool = True, **overrides):  # type: ignore[no-untyped-def]
    config = {
        "database_url": database_url,
        "models_dir": tempfile.mkdtemp(dir=_MODELS.name),
        "refresh_seconds": 0,
        "default_recommender": "hybrid",
        "admin_token": "",
        "api_key": "",
        "env": "dev",
    }
    config.update(overrides)
    app = create_app(config)
    if caught_up:
        app.test_client_class = CaughtUpClient
    return app


def read_only(app) -> None:  # type: ignore[no-untyped-def]
    """The app's PostgreSQL refuses writes from now on, as a hot standby does (every new
    connection in read-only transactions; the pooled ones are dropped)."""
    from sqlalchemy import event

    engine = app.container.engine()
    engine.dispose()

    @event.listens_for(engine, "connect")
    def refusing_writes(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.execute("SET default_transaction_read_only = on")
        dbapi_connection.commit()


@pytest.fixture
def app(database_url):  # type: ignore[no-untyped-def]
    app = make_app(database_url)
    yield app
    app.container.engine().dispose()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    response = client.post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    assert response.status_code == 200, response.json
    return client


@pytest.fixture
def serving(sqlite_url, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """`recsys serve` up to the moment gunicorn would start: returns (run, the binds asked).
    RS_PORT is a free port: serve refuses a port in use, such as the default 8002 of a
    developer's own `make run`."""
    from entrypoints.wsgi import GunicornServer
    from tests.e2e.test_readme import free_port

    monkeypatch.setenv("RS_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("RS_PORT", str(free_port()))
    monkeypatch.setenv("RS_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    binds: list[str] = []
    monkeypatch.setattr(GunicornServer, "run", lambda self: binds.append(self.options["bind"]))

    def run(*args: str, **env: str):  # type: ignore[no-untyped-def]
        for name, value in {"RS_ADMIN_TOKEN": "", "RS_API_KEY": "", "ENV": "dev", **env}.items():
            monkeypatch.setenv(name, value)
        return CliRunner().invoke(cli, ["serve", *args])

    return run, binds


def demo_service(sqlite_url: str, models: str, learners: int):  # type: ignore[no-untyped-def]
    """A web app on demo data with every strategy published (two_tower at a test's size), and
    the two_tower version it serves."""
    from adapters.demo_data import demo_data
    from tests.unit.test_two_tower import FAST

    app = make_app(sqlite_url, caught_up=False, models_dir=models, two_tower=FAST)
    data = demo_data(seed=5, learners=learners)
    app.container.upsert_courses().execute(data.courses)
    app.container.log_interactions().execute(data.interactions)
    app.container.fit_strategies(train_two_tower=None).execute()
    return app, app.container.train_two_tower().execute().version
