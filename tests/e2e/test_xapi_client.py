"""A real xAPI client library (tincan's RemoteLRS) posts statements to the service unchanged."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest
from tincan import Activity, Agent, AgentAccount, RemoteLRS, Statement, Verb
from werkzeug.serving import make_server

from tests.e2e.conftest import make_app


@pytest.fixture
def served(sqlite_url):  # type: ignore[no-untyped-def]
    app = make_app(sqlite_url, admin_token="admin-secret", xapi_key="lms", xapi_secret="s3cret")
    app.test_client().post(
        "/api/v1/courses",
        json={"courses": [{"course_id": "course_sql_basic", "title": "SQL Basics"}]},
        headers={"Authorization": "Bearer admin-secret"},
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}/api/v1/xapi/"
    server.shutdown()
    thread.join()
    app.container.engine().dispose()


def statement(verb: str, statement_id: str | None = None) -> Statement:
    return Statement(
        id=statement_id,
        actor=Agent(account=AgentAccount(home_page="https://lms.example", name="ana")),
        verb=Verb(id=f"http://adlnet.gov/expapi/verbs/{verb}"),
        object=Activity(id="https://lms.example/courses/course_sql_basic"),
        timestamp=datetime(2026, 11, 1, 9, 30, tzinfo=UTC),
    )


def test_remote_lrs_saves_statements_that_become_events(served):
    app, endpoint = served
    lrs = RemoteLRS(endpoint=endpoint, username="lms", password="s3cret")
    assert lrs.about().success
    posted = lrs.save_statement(statement("registered"))  # no id: POST, the service assigns it
    assert posted.success and posted.content.id
    put = lrs.save_statement(statement("completed", str(uuid.uuid4())))  # with an id: PUT
    assert put.success and put.response.status == 204
    batch = lrs.save_statements([statement("experienced"), statement("launched")])
    assert batch.success and all(s.id for s in batch.content)
    with app.container.uow() as uow:
        history = uow.interactions.history("ana")  # type: ignore[arg-type]
    assert sorted(e.event_type.value for e in history.events) == [
        "complete",
        "enroll",
        "view",
        "view",
    ]
    assert {e.course_id for e in history.events} == {"course_sql_basic"}


def test_remote_lrs_with_the_wrong_secret_is_refused(served):
    _, endpoint = served
    lrs = RemoteLRS(endpoint=endpoint, username="lms", password="wrong")
    response = lrs.save_statement(statement("completed"))
    assert not response.success and response.response.status == 403
