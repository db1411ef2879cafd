"""/readyz says what is wrong: a schema never migrated or left behind, a version that failed its
checks (not "nothing published yet"), that the database does not answer (why: in the log)."""

from __future__ import annotations

import sqlite3

from adapters.sqlalchemy.migrate import downgrade, upgrade
from entrypoints.schemas import course_json
from tests.conftest import CATALOG
from tests.e2e.conftest import make_app
from tests.e2e.test_serving import events


def _ready(app):  # type: ignore[no-untyped-def]
    response = app.test_client().get("/readyz")
    app.container.engine().dispose()
    return response


def test_a_server_on_a_database_never_migrated_says_to_run_init_db(tmp_path):
    sqlite3.connect(tmp_path / "empty.db").close()  # a database, without our tables
    response = _ready(make_app(f"sqlite:///{tmp_path / 'empty.db'}", caught_up=False))
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.json["error"]["message"] == ("the database has no schema: run `recsys init-db`")


def test_a_server_on_a_database_at_an_older_revision_names_both_and_says_to_run_init_db(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url)
    downgrade(url, "0003")
    message = _ready(make_app(url, caught_up=False)).json["error"]["message"]
    assert message.startswith("the database schema is at revision 0003, this version needs ")
    assert message.endswith(": run `recsys init-db`")
    upgrade(url)
    assert "schema" not in _ready(make_app(url, caught_up=False)).json["error"]["message"]


def test_a_published_version_that_fails_its_checks_is_named_with_why_not_called_missing(
    sqlite_url, tmp_path
):
    models = str(tmp_path / "models")
    app = make_app(sqlite_url, caught_up=False, models_dir=models)
    app.test_client().post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    app.container.fit_strategies(train_two_tower=None).execute()
    store = app.container.artifact_store()
    version = store.current_version("item_cf")
    damaged = next(
        p for p in (store.root / "item_cf" / "versions" / version).iterdir() if p.suffix == ".npy"
    )
    damaged.write_bytes(b"x" + damaged.read_bytes()[1:])
    app.container.engine().dispose()
    message = _ready(make_app(sqlite_url, caught_up=False, models_dir=models)).json["error"][
        "message"
    ]
    assert f"item_cf version {version} rejected" in message and "checksum" in message
    assert "no published version of two_tower yet" in message
    assert "item_cf yet" not in message


def test_why_the_database_does_not_answer_is_logged_not_told_to_whoever_asks(caplog):
    """The driver's words name the database's host, port, role and name: /readyz needs no
    credentials, so it says only that the database does not answer."""
    app = make_app("postgresql+psycopg://recsys_role@127.0.0.1:1/secret_db", caught_up=False)
    message = _ready(app).json["error"]["message"]
    assert message == "database unreachable (the server's log says why)"
    logged = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("refused" in line and "127.0.0.1" in line for line in logged), logged


def test_a_web_host_without_the_models_folder_says_so_not_that_no_trainer_runs(
    sqlite_url, tmp_path, caplog
):
    """The trainers publish on another host, into a volume this one has not mounted: "is
    `recsys trainer` running?" sent the operator to trainers that were working."""
    unmounted = tmp_path / "mnt" / "recsys-models"
    app = make_app(sqlite_url, caught_up=False, models_dir=str(unmounted))
    app.test_client().post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    message = _ready(app).json["error"]["message"]
    assert "the models folder (RS_MODELS_DIR) does not exist on this host" in message
    assert "is `recsys trainer` running?" not in message
    assert str(unmounted) not in message  # a path of this host: for its log
    assert any(str(unmounted) in r.getMessage() for r in caplog.records)


def published_by_a_trainer(url: str, **settings: str) -> None:
    """A trainer's host with `settings` stores the catalog and some events, and fits once."""
    trainer_host = make_app(url, caught_up=False, **settings)
    client = trainer_host.test_client()
    client.post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    client.post("/api/v1/interactions", json={"events": events(0, 30)})
    trainer_host.container.fit_strategies.add_kwargs(train_two_tower=None)  # no torch here
    trainer_host.container.trainer(fit_interval=0).run_once()
    trainer_host.container.engine().dispose()


def test_an_empty_mount_point_of_the_models_volume_is_named_when_trainers_published(
    sqlite_url, tmp_path, caplog
):
    """The volume not mounted, its mount point there and empty: "is `recsys trainer` running?"
    sent the operator to trainers that had published into the volume all along."""
    published_by_a_trainer(sqlite_url, models_dir=str(tmp_path / "volume"))
    mount_point = tmp_path / "mnt"
    mount_point.mkdir()
    message = _ready(make_app(sqlite_url, caught_up=False, models_dir=str(mount_point)))
    message = message.json["error"]["message"]
    assert "not the folder the trainers publish into" in message
    assert "item_cf" in message and "is `recsys trainer` running?" not in message
    assert str(mount_point) not in message
    assert any(str(mount_point) in r.getMessage() for r in caplog.records)
    # with nothing published anywhere yet, it is the trainers that are missing
    upgrade(f"sqlite:///{tmp_path / 'new.db'}")
    fresh = make_app(
        f"sqlite:///{tmp_path / 'new.db'}", caught_up=False, models_dir=str(mount_point)
    )
    fresh.test_client().post("/api/v1/courses", json={"courses": [course_json(c) for c in CATALOG]})
    assert "is `recsys trainer` running?" in _ready(fresh).json["error"]["message"]


def test_hosts_keeping_models_in_different_stores_are_told_to_set_rs_models_store_alike(
    sqlite_url, tmp_path, caplog
):
    """A web host on RS_MODELS_STORE=database beside trainers publishing into a folder (or the
    reverse) was sent to look for "a shared volume not mounted here", and told of "this host's
    models folder (RS_MODELS_DIR)" on a host that keeps none: the setting differs between them."""
    for trainers, web in (("folder", "database"), ("database", "folder")):
        url = f"sqlite:///{tmp_path / trainers / 'recsys.db'}"
        upgrade(url)
        published_by_a_trainer(url, models_store=trainers, models_dir=str(tmp_path / trainers))
        web_host = make_app(url, caught_up=False, models_store=web)
        message = _ready(web_host).json["error"]["message"]
        assert "item_cf" in message and "RS_MODELS_STORE" in message, message
        if web == "database":
            assert "folder (RS_MODELS_DIR)" not in message and "volume" not in message, message


def test_a_web_host_without_a_models_folder_beside_trainers_publishing_into_the_database_is_told_of_rs_models_store(
    sqlite_url, tmp_path
):
    """Without a shared volume, a web host that misses RS_MODELS_STORE=database has no models
    folder at all: it was sent to look for a shared volume not mounted, only."""
    published_by_a_trainer(sqlite_url, models_store="database", models_dir=str(tmp_path / "t"))
    web_host = make_app(sqlite_url, caught_up=False, models_dir=str(tmp_path / "none"))
    message = _ready(web_host).json["error"]["message"]
    assert "item_cf" in message and "RS_MODELS_STORE" in message, message
