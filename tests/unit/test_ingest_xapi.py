"""IngestStatements on the in-memory store: learner ids, course resolution, voiding, results."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from adapters.in_memory import InMemoryStore, InMemoryUnitOfWork
from application.use_cases.ingest_xapi import IngestStatements
from application.xapi_mapping import XapiMapping
from domain.errors import InvalidStatements
from entrypoints.xapi_mapping_file import load_mapping
from tests.conftest import CATALOG, NOW
from tests.e2e.xapi_examples import MOODLE_MODULE_COMPLETED, SPEC_COMPLETED

COMPLETED = "http://adlnet.gov/expapi/verbs/completed"


def ingest(mapping: XapiMapping | None = None) -> tuple[IngestStatements, InMemoryStore]:
    store = InMemoryStore()
    uow = lambda: InMemoryUnitOfWork(store)  # noqa: E731
    with uow() as work:
        work.courses.upsert(CATALOG)
        work.commit()
    mapping = mapping or load_mapping("configs/xapi.yaml")
    return IngestStatements(uow, mapping, clock=lambda: NOW), store


def statement(actor: dict, course: str = "course_sql_basic", **extra) -> dict:  # type: ignore[type-arg]
    return {
        "id": str(uuid.uuid4()),
        "actor": actor,
        "verb": {"id": COMPLETED},
        "object": {"id": f"https://lms.example/courses/{course}"},
        **extra,
    }


def users(store: InMemoryStore) -> set[str]:
    return {e.user_id for e in store.events.values()}


def test_mbox_and_its_sha1sum_are_the_same_learner_and_no_address_is_kept():
    use_case, store = ingest()
    digest = hashlib.sha1(b"mailto:ana@example.com").hexdigest()
    use_case.execute(
        [
            statement({"mbox": "mailto:ana@example.com"}),
            statement({"mbox_sha1sum": digest.upper()}, "course_ml_basic"),
        ]
    )
    assert users(store) == {f"sha1:{digest}"}


def test_accounts_can_be_qualified_by_their_home_page():
    mapping = dataclasses.replace(load_mapping("configs/xapi.yaml"), qualify_accounts=True)
    use_case, store = ingest(mapping)
    use_case.execute([statement({"account": {"homePage": "https://a.example", "name": "7"}})])
    assert users(store) == {"7@https://a.example"}


def test_a_statement_without_timestamp_happened_when_it_arrived():
    use_case, store = ingest()
    use_case.execute([statement({"account": {"homePage": "https://a.example", "name": "7"}})])
    assert [e.occurred_at for e in store.events.values()] == [NOW]


def test_a_timestamp_in_lower_case_is_read_as_rfc_3339_allows():
    """ "2026-11-01t10:00:00z" was refused as not ISO 8601; RFC 3339 allows the lower case."""
    use_case, store = ingest()
    actor = {"account": {"homePage": "https://a.example", "name": "7"}}
    result = use_case.execute([statement(actor, timestamp="2026-11-01t10:00:00z")])
    assert result.accepted == 1
    assert [e.occurred_at for e in store.events.values()] == [datetime(2026, 11, 1, 10, tzinfo=UTC)]


def test_a_module_completed_counts_for_its_course_only_as_much_as_the_mapping_allows():
    use_case, store = ingest()
    moodle = copy.deepcopy(MOODLE_MODULE_COMPLETED)
    moodle["context"]["contextActivities"]["grouping"][1]["id"] = (
        "https://moodle.example/courses/course_ml_basic"
    )
    result = use_case.execute([moodle])
    assert result.accepted == 1
    (event,) = store.events.values()
    assert (event.course_id, event.event_type.value) == ("course_ml_basic", "view")


def test_a_voiding_statement_that_arrives_first_keeps_the_voided_one_out():
    use_case, store = ingest()
    target = statement({"account": {"homePage": "https://a.example", "name": "7"}})
    voiding = statement(
        {"account": {"homePage": "https://a.example", "name": "admin"}},
        verb={"id": "http://adlnet.gov/expapi/verbs/voided"},
        object={"objectType": "StatementRef", "id": target["id"]},
    )
    use_case.execute([voiding])
    result = use_case.execute([target])
    assert store.events == {} and result.ignored == {"voided": 1}


def test_ignored_statements_are_counted_by_reason():
    use_case, _ = ingest()
    group = {"objectType": "Group", "member": [{"mbox": "mailto:a@b.org"}]}
    unknown_verb = statement({"openid": "https://id.example/ana"})
    unknown_verb["verb"]["id"] = "https://example.org/verbs/danced"
    result = use_case.execute(
        [
            statement(group),
            unknown_verb,
            statement({"openid": "https://id.example/ana"}, "course_underwater_basketry"),
            statement({"openid": "https://id.example/ana"}),
        ]
    )
    assert result.accepted == 1
    assert result.ignored == {
        "actor is a group": 1,
        "verb not mapped": 1,
        "activity not mapped to a catalog course": 1,
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": (NOW + timedelta(days=400)).isoformat()}, "timestamp"),
        ({"verb": "completed"}, "verb"),
        ({"actor": {"account": {"homePage": "https://a.example"}}}, "actor.account.name"),
        ({"actor": {"mbox_sha1sum": "abc"}}, "actor.mbox_sha1sum"),
        ({"object": {"objectType": "StatementRef", "id": "nope"}}, "object.id"),
        (
            {"context": {"contextActivities": {"parent": [{"id": "no iri"}]}}},
            "context.contextActivities.parent.id",
        ),
    ],
)
def test_invalid_statements_name_the_field(change, field):
    use_case, store = ingest()
    with pytest.raises(InvalidStatements) as raised:
        use_case.execute([copy.deepcopy(SPEC_COMPLETED) | change])
    assert raised.value.problems[0]["field"] == field
    assert store.statements == {}


@pytest.mark.parametrize(
    ("skew_seconds", "minutes_ahead", "stored"),
    [(300, 2, True), (300, 10, False), (3600, 30, True), (3600, 90, False)],
)
def test_a_statement_may_lie_as_far_ahead_as_any_event_and_no_further(
    skew_seconds, minutes_ahead, stored
):
    use_case, store = ingest()
    use_case.max_clock_skew = timedelta(seconds=skew_seconds)
    ahead = (NOW + timedelta(minutes=minutes_ahead)).isoformat()
    sent = statement({"openid": "https://id.example/ana"}, timestamp=ahead)
    if stored:
        assert use_case.execute([sent]).accepted == 1
        return
    with pytest.raises(InvalidStatements) as raised:
        use_case.execute([sent])
    assert str(raised.value) == (
        f"statement 0: timestamp: lies more than {skew_seconds} s in the future (RS_MAX_CLOCK_SKEW)"
    )
    assert store.events == {}


def test_the_same_id_twice_in_one_batch_is_refused():
    use_case, _ = ingest()
    twice = statement({"openid": "https://id.example/ana"})
    with pytest.raises(InvalidStatements, match="statement 1: id: repeats"):
        use_case.execute([twice, twice])
