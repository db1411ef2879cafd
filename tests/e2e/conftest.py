"""An app on a migrated SQLite or PostgreSQL database, with the small test catalog loaded."""

from __future__ import annotations

import tempfile

import pytest
from flask.testing import FlaskClient

from application.ports import StorageUnavailable
from entrypoints.api import create_app
from entrypoints.schemas import course_json
from tests.conftest import CATALOG


def catch_up(app) -> None:  # type: ignore[no-untyped-def]
    """One trainer cycle: fit and publish what the data has outdated (two_tower is trained only
    where a test trains it)."""
    try:
        app.container.fit_strategies(train_two_tower=None).execute()
    except StorageUnavailable:
        pass  # a trainer that cannot reach the database publishes nothing, and tries again


class CaughtUpClient(FlaskClient):
    """A client of a service whose trainer keeps up: reads run after a trainer cycle."""

    def open(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        path = str(args[0]) if args else str(kwargs.get("path", ""))
        if kwargs.get("method", "GET") == "GET" and path.startswith(
            ("/api/v1/recommendations", "/admin/recommendations")
        ):
            catch_up(self.application)
        return super().open(*args, **kwargs)


def make_app(database_url: str, caught_up: bool = True, **overrides):  # type: ignore[no-untyped-def]
    config = {
        "database_url": database_url,
        "models_dir": tempfile.mkdtemp(prefix="recsys-models-"),
        "refresh_seconds": 0,
        "default_recommender": "hybrid",
        "admin_token": "",
        "env": "dev",
    }
    config.update(overrides)
    app = create_app(config)
    if caught_up:
        app.test_client_class = CaughtUpClient
    return app


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
