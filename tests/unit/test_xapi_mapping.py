"""The xAPI mapping file: shipped defaults, rules, and mistakes that stop the start."""

from __future__ import annotations

import pytest

from application.xapi_mapping import InvalidMapping, XapiMapping
from domain.model import EventType
from entrypoints.config import ConfigError
from entrypoints.xapi_mapping_file import load_mapping
from tests.e2e.conftest import make_app


def test_the_shipped_mapping_covers_adl_and_community_verbs():
    mapping = load_mapping("configs/xapi.yaml")
    adl = "http://adlnet.gov/expapi/verbs/"
    assert mapping.event_type(adl + "experienced") is EventType.VIEW
    assert mapping.event_type(adl + "launched") is EventType.VIEW
    assert mapping.event_type("http://id.tincanapi.com/verb/viewed") is EventType.VIEW
    assert mapping.event_type(adl + "registered") is EventType.ENROLL
    for verb in ("completed", "passed", "mastered"):
        assert mapping.event_type(adl + verb) is EventType.COMPLETE
    assert mapping.event_type(adl + "answered") is None
    assert mapping.event_type("https://example.org/verbs/danced") is None


def test_activity_iris_map_by_exact_id_then_rules_then_last_path_segment():
    mapping = XapiMapping.from_dict(
        {
            "verbs": {"http://adlnet.gov/expapi/verbs/completed": "complete"},
            "activities": {
                "ids": {"https://lms.example/a/xyz": "course_sql_basic"},
                "rules": [{"pattern": r"/course/view\.php\?id=(?P<id>\d+)$", "course": "m-{id}"}],
            },
        }
    )
    assert mapping.candidates("https://lms.example/a/xyz") == ["course_sql_basic", "xyz"]
    assert mapping.candidates("https://moodle.example/course/view.php?id=7") == [
        "m-7",
        "view.php",
    ]
    assert mapping.candidates("https://lms.example/courses/course_ml_basic/") == ["course_ml_basic"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "must be a YAML mapping"),
        ({"verbs": {}}, "'verbs' must map"),
        ({"verbs": {"completed": "complete"}}, "is not an IRI"),
        ({"verbs": {"http://x.org/v": "finish"}}, "'finish' is not one of"),
        ({"verbs": {"http://adlnet.gov/expapi/verbs/voided": "view"}}, "always voids"),
        ({"verbs": {"http://x.org/v": "view"}, "extra": 1}, "unknown sections: extra"),
        # a file that is no mapping (RS_XAPI_MAPPING=/etc/shadow) is not echoed line by line
        (
            {"verbs": {"http://x.org/v": "view"}, "root:$6$salt$hash:20228:0:99999:7::": None},
            "unknown sections: 1 that names no section: is this the xAPI mapping",
        ),
        (
            {"verbs": {"http://x.org/v": "view"}, "activities": {"rules": [{"pattern": "("}]}},
            "exactly 'pattern' and 'course'",
        ),
        (
            {
                "verbs": {"http://x.org/v": "view"},
                "activities": {"rules": [{"pattern": "(", "course": "x"}]},
            },
            "not a regular expression",
        ),
        (
            {
                "verbs": {"http://x.org/v": "view"},
                "activities": {"rules": [{"pattern": "(?P<a>x)", "course": "{b}"}]},
            },
            "groups the pattern lacks",
        ),
    ],
)
def test_a_broken_mapping_is_refused_with_a_message_naming_the_entry(data, message):
    with pytest.raises(InvalidMapping, match=message.replace("(", r"\(")):
        XapiMapping.from_dict(data)


@pytest.mark.parametrize("course", ["moodle-{}", "{id}{", "{id.real}", "{id!r}", "{id:>5}"])
def test_a_course_template_that_would_fail_on_a_statement_is_refused_at_start(course):
    # loaded, it answered 500 to every batch holding a statement its pattern matched
    rule = {"pattern": r"id=(?P<id>\d+)$", "course": course}
    data = {"verbs": {"http://x.org/v": "view"}, "activities": {"rules": [rule]}}
    with pytest.raises(InvalidMapping, match=r"activities.rules\[0\].course"):
        XapiMapping.from_dict(data)


def test_braces_doubled_in_a_course_template_are_literal_braces():
    rule = {"pattern": r"id=(?P<id>\d+)$", "course": "{{{id}}}"}
    data = {"verbs": {"http://x.org/v": "view"}, "activities": {"rules": [rule]}}
    assert XapiMapping.from_dict(data).candidates("https://m.example/?id=42")[0] == "{42}"


def test_the_service_does_not_start_with_a_broken_mapping_file(tmp_path, sqlite_url):
    broken = tmp_path / "xapi.yaml"
    broken.write_text("verbs:\n  http://adlnet.gov/expapi/verbs/completed: finished\n")
    with pytest.raises(ConfigError, match="'finished' is not one of"):
        make_app(sqlite_url, xapi_mapping=str(broken))
    with pytest.raises(ConfigError, match="no mapping file"):
        make_app(sqlite_url, xapi_mapping=str(tmp_path / "missing.yaml"))
