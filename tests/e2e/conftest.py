"""An app on a migrated SQLite or PostgreSQL database, with the small test catalog loaded."""

from __future__ import annotations

import tempfile

import pytest

from entrypoints.api import create_app
from entrypoints.schemas import course_json
from tests.conftest import CATALOG


def make_app(database_url: str, **overrides):  # type: ignore[no-untyped-def]
    config = {
        "database_url": database_url,
        "models_dir": tempfile.mkdtemp(prefix="recsys-models-"),
        "refresh_seconds": 0,
        "default_recommender": "hybrid",
        "admin_token": "",
        "env": "dev",
    }
    config.update(overrides)
    return create_app(config)


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
