"""Statements written from the xAPI 1.0.3 specification's examples and shaped as Moodle's logstore_xapi
sends them (course viewed, user enrolled, course module completed)."""

from __future__ import annotations

import copy
from typing import Any

# From the specification's examples (the simple one with a verb we map instead of "created").
SPEC_SIMPLE: dict[str, Any] = {
    "id": "12345678-1234-5678-1234-567812345678",
    "actor": {"mbox": "mailto:xapi@adlnet.gov"},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/attempted", "display": {"en-US": "attempted"}},
    "object": {"id": "http://example.adlnet.gov/xapi/example/simpleCBT"},
}
SPEC_LONG: dict[str, Any] = {
    "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
    "actor": {
        "name": "Team PB",
        "mbox": "mailto:teampb@example.com",
        "member": [
            {
                "name": "Andrew Downes",
                "account": {"homePage": "http://www.example.com", "name": "13936749"},
                "objectType": "Agent",
            },
        ],
        "objectType": "Group",
    },
    "verb": {"id": "http://adlnet.gov/expapi/verbs/attended", "display": {"en-GB": "attended"}},
    "result": {
        "success": True,
        "completion": True,
        "response": "We agreed on some example actions.",
        "duration": "PT1H0M0S",
    },
    "context": {
        "registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7",
        "platform": "Example virtual meeting software",
        "language": "tlh",
        "statement": {"objectType": "StatementRef", "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"},
    },
    "timestamp": "2013-05-18T05:32:34.804+00:00",
    "stored": "2013-05-18T05:32:34.804+00:00",
    "object": {"id": "http://www.example.com/meetings/occurances/34534"},
}
SPEC_COMPLETED: dict[str, Any] = {
    "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
    "timestamp": "2015-11-18T12:17:00+00:00",
    "actor": {
        "objectType": "Agent",
        "name": "Project Tin Can API",
        "mbox": "mailto:user@example.com",
    },
    "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed"}},
    "object": {
        "id": "http://example.adlnet.gov/xapi/example/simplestatement",
        "definition": {"name": {"en-US": "simple statement"}},
        "objectType": "Activity",
    },
}
SPEC_VOIDING: dict[str, Any] = {
    "actor": {
        "objectType": "Agent",
        "name": "Example Admin",
        "mbox": "mailto:admin@example.adlnet.gov",
    },
    "verb": {"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}},
    "object": {"objectType": "StatementRef", "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0"},
}

_MOODLE_CONTEXT: dict[str, Any] = {
    "platform": "Moodle",
    "language": "en",
    "extensions": {
        "http://lrs.learninglocker.net/define/extensions/info": {"http://moodle.org": "4.1.0"}
    },
    "contextActivities": {
        "grouping": [
            {
                "id": "http://moodle.example",
                "definition": {"type": "http://id.tincanapi.com/activitytype/lms"},
            },
        ],
        "category": [
            {
                "id": "http://moodle.org",
                "definition": {"type": "http://id.tincanapi.com/activitytype/source"},
            }
        ],
    },
}
_MOODLE_ACTOR = {
    "name": "Ana Example",
    "account": {"homePage": "http://moodle.example", "name": "7"},
}
_COURSE = {
    "id": "http://moodle.example/course/view.php?id=42",
    "definition": {
        "type": "http://id.tincanapi.com/activitytype/lms/course",
        "name": {"en": "Statistics"},
    },
}


def moodle(
    verb: str, obj: dict[str, Any], timestamp: str, in_course: bool = False
) -> dict[str, Any]:
    context = copy.deepcopy(_MOODLE_CONTEXT)
    if in_course:
        context["contextActivities"]["grouping"].append(copy.deepcopy(_COURSE))
    return {
        "actor": _MOODLE_ACTOR,
        "verb": {"id": verb, "display": {"en": verb.rsplit("/", 1)[-1]}},
        "object": obj,
        "timestamp": timestamp,
        "context": context,
    }


MOODLE_COURSE_VIEWED = moodle(
    "http://id.tincanapi.com/verb/viewed", _COURSE, "2026-10-01T09:00:00+01:00"
)
MOODLE_USER_ENROLLED = moodle(
    "http://adlnet.gov/expapi/verbs/registered", _COURSE, "2026-10-01T09:05:00+01:00"
)
MOODLE_MODULE_COMPLETED = moodle(
    "http://adlnet.gov/expapi/verbs/completed",
    {
        "id": "http://moodle.example/mod/quiz/view.php?id=9",
        "definition": {
            "type": "http://id.tincanapi.com/activitytype/lms/module",
            "name": {"en": "Quiz 1"},
        },
    },
    "2026-10-02T10:00:00+01:00",
    in_course=True,
)
