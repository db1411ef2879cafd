"""What a home request asks of PostgreSQL: its reads (the throttle's check, the learner's
history) run outside a transaction; only the list's recording opens one."""

from __future__ import annotations

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import event

from tests.conftest import CATALOG
from tests.conftest import event as interaction
from tests.e2e.conftest import make_app

KEY = "k" * 24
HOME = "/api/v1/recommendations/home?user_id=u1&strategy=popularity"


@pytest.mark.postgres
def test_a_home_requests_reads_open_no_transaction(postgres_url):
    """Each read in a transaction cost a BEGIN and a ROLLBACK, and psycopg drops its prepared
    statements at a ROLLBACK (a DEALLOCATE ALL next): 6 of a home request's 19 round trips, each
    a millisecond or more to a database on another host."""
    app = make_app(postgres_url, caught_up=False, api_key=KEY)
    container = app.container
    container.upsert_courses().execute(CATALOG)
    container.log_interactions().execute([interaction("u1", "course_sql_basic", "enroll")])
    container.fit_strategies(train_two_tower=None).execute()
    client = app.test_client()
    assert client.get(HOME, headers={"X-API-Key": KEY}).status_code == 200
    seen: list[tuple[str, TransactionStatus]] = []

    @event.listens_for(container.engine(), "after_cursor_execute")
    def status(conn, cursor, statement, *_):  # type: ignore[no-untyped-def]
        seen.append((" ".join(statement.split()), cursor.connection.info.transaction_status))

    answer = client.get(HOME, headers={"X-API-Key": KEY})
    assert answer.status_code == 200 and answer.json["recommendation_id"]
    recording = ("INSERT", "SELECT pg_advisory", "SELECT erasures")  # the list's, held off erasure
    read = [s for sql, s in seen if not sql.startswith(recording)]
    recorded = [s for sql, s in seen if sql.startswith(recording)]
    # the throttle's check, the history, and (refresh_seconds 0 here) the snapshot's check
    assert any("FROM credential_failures" in sql for sql, _ in seen)
    assert any("FROM interactions WHERE" in sql for sql, _ in seen)
    assert len(read) == 3 and set(read) == {TransactionStatus.IDLE}
    assert recorded and set(recorded) == {TransactionStatus.INTRANS}  # the list's recording
    container.engine().dispose()


@pytest.mark.postgres
def test_a_unit_of_work_for_reads_commits_nothing(postgres_url):
    """Its statements took effect one by one: a commit would pass for one that made them
    all or none."""
    app = make_app(postgres_url)
    with pytest.raises(RuntimeError, match="commits nothing"), app.container.reads() as uow:
        uow.commit()
    app.container.engine().dispose()
