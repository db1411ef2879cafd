"""An id in a path follows the id rule of bodies and query strings, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest

from tests.e2e.test_openapi import _response

IDS = {
    "user_id": "/api/v1/recommendations/stats/user/{}",
    "course_id": "/api/v1/courses/{}",
    "job_id": "/admin/recommendations/jobs/{}",
}


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", "/api/v1/courses/%00", "course_id"),
        ("GET", "/api/v1/courses/a%00b", "course_id"),
        ("GET", f"/api/v1/courses/{'x' * 5000}", "course_id"),
        ("GET", "/api/v1/courses/%20padded", "course_id"),
        ("PATCH", "/api/v1/courses/a%00", "course_id"),
        ("PUT", "/api/v1/courses/a%00", "course_id"),
        ("GET", "/api/v1/recommendations/similar/x%00y", "course_id"),
        ("GET", f"/api/v1/recommendations/similar/{'x' * 129}", "course_id"),
        ("GET", "/api/v1/recommendations/stats/user/a%00", "user_id"),
        ("DELETE", "/api/v1/learners/a%00", "user_id"),
        ("GET", "/admin/recommendations/jobs/%00", "job_id"),
        ("GET", f"/admin/recommendations/jobs/{'j' * 129}", "job_id"),
    ],
)
def test_an_id_in_the_path_that_breaks_the_id_rule_is_a_400_naming_it(client, method, path, field):
    body = {"title": "T"} if method in ("PUT", "PATCH") else None
    response = client.open(path, method=method, json=body)
    assert response.status_code == 400, response.json
    error = response.json["error"]
    assert error["code"] == "validation_error"
    assert error["problems"] == [
        {
            "index": None,
            "field": field,
            "message": "must be 1 to 128 printable characters without surrounding spaces",
        }
    ]


def test_ids_of_128_characters_and_with_a_slash_are_still_looked_up(client):
    assert client.get(f"/api/v1/courses/{'x' * 128}").status_code == 404
    assert client.get("/admin/recommendations/jobs/nope").status_code == 404
    assert client.get("/api/v1/recommendations/similar/nope%2Fcourse").status_code == 404
    stats = client.get("/api/v1/recommendations/stats/user/user7@https:%2F%2Flms.example")
    assert stats.status_code == 200 and stats.json["user_id"] == "user7@https://lms.example"


def test_an_id_ending_in_a_slash_is_looked_up_when_the_slash_is_sent_encoded(client):
    """An xAPI learner qualified by an LMS whose homePage ends in "/" has its stats read (it
    was a 404 whatever was sent); "/user7/", a plain slash, is still a typo for user7."""
    qualified = "user7@https://lms.example/"
    client.get(f"/api/v1/recommendations/home?user_id={qualified}&strategy=popularity&k=1")
    for sent in ("user7@https:%2F%2Flms.example%2F", "user7%40https%3a%2f%2flms.example%2f"):
        stats = client.get(f"/api/v1/recommendations/stats/user/{sent}")
        assert stats.status_code == 200 and stats.json["user_id"] == qualified
        assert stats.json["num_recommendations"] == 1
    assert client.get("/api/v1/recommendations/stats/user/user7/").status_code == 404
    assert client.get("/api/v1/recommendations/stats/user/user7/?x=%2F").status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/courses/a/"),
        ("PUT", "/api/v1/courses/a/"),
        ("PATCH", "/api/v1/courses/a/"),
        ("GET", "/api/v1/recommendations/similar/a/"),
        ("GET", "/api/v1/recommendations/stats/user/u/"),
    ],
)
def test_a_plain_slash_ending_an_id_is_a_404_whatever_the_method(client, method, path):
    """Refused while matching the route, it was a 405 whose Allow header named only the
    methods of the routes tried before (PUT /courses/a/: Allow: GET), found in review."""
    response = client.open(path, method=method, json={"title": "T"})
    assert response.status_code == 404 and "Allow" not in response.headers


def test_a_method_the_path_does_not_take_is_a_405_naming_those_it_does(client):
    for path in ("/api/v1/courses/a", "/api/v1/courses/a%2F"):
        response = client.delete(path)
        assert response.status_code == 405, path
        allowed = set(response.headers["Allow"].split(", "))
        assert allowed == {"GET", "HEAD", "OPTIONS", "PATCH", "PUT"}
    # a typo'd "/": no route takes it, whatever the method (an Allow header would name methods
    # that answer 404 there)
    for method, path in (("DELETE", "/api/v1/courses/a/"), ("POST", "/api/v1/learners/u/")):
        response = client.open(path, method=method)
        assert response.status_code == 404 and "Allow" not in response.headers, (method, path)


def test_every_operation_on_an_id_documents_the_404_a_plain_slash_ending_it_gets(client):
    """PUT /courses/a/, DELETE /learners/u/ and GET /stats/user/u/ answered a 404 their
    operations did not document (a client checking answers against the document failed on it),
    with werkzeug's "check your spelling": it says what to send instead."""
    spec = client.get("/openapi.json").json
    for path, operations in spec["paths"].items():
        url = re.sub(r"{[^}]+}$", "a/", path)
        if url == path:
            continue
        for method in operations:
            response = client.open(url, method=method.upper(), json={"title": "T"})
            assert response.status_code == 404, (method, url)
            documented = _response(spec, path, method, "404")
            assert documented.is_valid(response.json), (method, path)
            name = re.findall(r"{([^}]+)}$", path)[0]
            assert response.json["error"]["message"] == (
                f'{name} ends in a plain "/": drop it, or send it as %2F if the id ends in "/"'
            )
