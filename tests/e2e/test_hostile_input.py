"""Hostile or malformed bodies get a clear 4xx JSON answer, never a 500."""

from __future__ import annotations

import codecs
import gzip
import io

import pytest

from tests.e2e.conftest import make_app
from tests.e2e.test_api import ev

COURSE = {"title": "Python", "description": "d", "category": "Programming"}


@pytest.mark.parametrize(
    "url", ["/api/v1/interactions", "/api/v1/courses", "/api/v1/courses/course_x"]
)
def test_deeply_nested_json_is_a_400_not_a_recursion_error(client, url):
    body = "[" * 1000 + "]" * 1000
    method = client.put if url.endswith("course_x") else client.post
    response = method(url, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_json"
    assert "deeper than 32" in response.json["error"]["message"]


def test_nesting_just_too_deep_inside_an_object_is_refused_too(client):
    nested = '{"a":' * 40 + "1" + "}" * 40
    response = client.post("/api/v1/interactions", data=nested, content_type="application/json")
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("field", ["title", "description", "category"])
def test_a_lone_surrogate_in_course_text_is_a_400(client, field):
    title = '"title": "T", ' if field != "title" else ""
    body = "{" + title + '"' + field + '": "bad \\ud800 text"}'
    response = client.put("/api/v1/courses/course_x", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_unicode"
    assert "\\ud800" in response.json["error"]["message"]


def test_a_lone_surrogate_in_a_tag_is_refused_so_it_never_reaches_training(client):
    body = '{"title": "T", "tags": ["ok", "\\udfff"]}'
    response = client.put("/api/v1/courses/course_x", data=body, content_type="application/json")
    assert response.status_code == 400
    assert client.get("/api/v1/courses/course_x").status_code == 404


def test_a_proper_surrogate_pair_is_ordinary_text(client):
    body = '{"title": "Emoji \\ud83d\\ude00"}'
    response = client.put("/api/v1/courses/course_x", data=body, content_type="application/json")
    assert response.status_code == 200 and response.json["title"] == "Emoji \U0001f600"


def test_bytes_that_are_not_utf8_are_a_400(client):
    response = client.post(
        "/api/v1/interactions", data=b'{"user_id": "\xff"}', content_type="application/json"
    )
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_wrong_content_type_is_a_415(client, content_type):
    response = client.post(
        "/api/v1/interactions",
        data='{"user_id": "u", "course_id": "course_sql_basic", "event_type": "view"}',
        content_type=content_type,
    )
    assert response.status_code == 415
    assert response.json["error"]["code"] == "unsupported_media_type"
    assert "application/json" in response.json["error"]["message"]


def test_a_missing_content_type_is_a_415(client):
    response = client.post("/api/v1/interactions", data=b'{"events": []}')
    assert response.status_code == 415


def test_a_compressed_body_is_a_415_naming_its_encoding_not_a_puzzle_about_utf8(client):
    # an LMS's HTTP client that gzips its requests was told "not UTF-8 at byte 1"
    body = b'{"user_id": "u", "course_id": "course_sql_basic", "event_type": "view"}'
    response = client.post(
        "/api/v1/interactions",
        data=gzip.compress(body),
        content_type="application/json",
        headers={"Content-Encoding": "gzip"},
    )
    assert response.status_code == 415
    assert response.json["error"]["code"] == "unsupported_media_type"
    assert "Content-Encoding 'gzip'" in response.json["error"]["message"]
    assert "uncompressed" in response.json["error"]["message"]


def test_an_identity_content_encoding_is_the_plain_body(client):
    response = client.post(
        "/api/v1/interactions",
        data=b'{"user_id": "u", "course_id": "course_sql_basic", "event_type": "view"}',
        content_type="application/json",
        headers={"Content-Encoding": "identity"},
    )
    assert response.status_code == 200


def test_a_body_opening_with_a_byte_order_mark_is_read_as_the_import_files_are(client):
    # JSON allows a parser to ignore it (RFC 8259, 8.1); a body saved by a Windows editor has one
    body = b'{"user_id": "u", "course_id": "course_sql_basic", "event_type": "view"}'
    response = client.post(
        "/api/v1/interactions", data=codecs.BOM_UTF8 + body, content_type="application/json"
    )
    assert response.status_code == 200 and response.json["accepted"] == 1


def test_a_too_large_body_names_the_limit(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post("/api/v1/interactions", data="x" * 2000, content_type="application/json")
    assert response.status_code == 413
    assert "1000 bytes" in response.json["error"]["message"]


def test_a_too_large_chunked_body_is_a_413_not_invalid_json(app, client):
    """A chunked body has no Content-Length: the limit applies while it is read."""
    app.config["MAX_CONTENT_LENGTH"] = 1000
    payload = b'{"events": [' + b", ".join([b'{"user_id": "u"}'] * 200) + b"]}"
    response = client.post(
        "/api/v1/interactions",
        input_stream=io.BytesIO(payload),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert response.json["error"]["code"] == "request_entity_too_large"
    assert "1000 bytes" in response.json["error"]["message"]


def test_nan_is_not_a_json_number(client):
    body = '{"title": "T", "active": NaN}'
    response = client.put("/api/v1/courses/course_x", data=body, content_type="application/json")
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_json"


def test_an_integer_of_thousands_of_digits_is_refused_as_too_large(client):
    body = '{"user_id": "u1", "course_id": "course_sql_basic", "event_type": "view", "n": %s}'
    response = client.post(
        "/api/v1/interactions", data=body % ("9" * 5000), content_type="application/json"
    )
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_json"
    message = response.json["error"]["message"]
    assert "number in the body is too large" in message and "sys." not in message


def test_ordinary_events_still_go_through(client):
    response = client.post("/api/v1/interactions", json=ev("u1", "course_sql_basic"))
    assert response.status_code == 200 and response.json["accepted"] == 1


@pytest.mark.parametrize(
    ("url", "body", "item"),
    [
        ("/api/v1/interactions", {"events": [ev("u1", "course_sql_basic"), 5]}, "event 1"),
        ("/api/v1/interactions", {"events": [None]}, "event 0"),
        ("/api/v1/courses", {"courses": [{"course_id": "c", "title": "C"}, "c2"]}, "course 1"),
        ("/api/v1/courses", {"courses": [None]}, "course 0"),
    ],
)
def test_a_batch_item_that_is_no_object_is_named_in_the_clients_words(client, url, body, item):
    response = client.post(url, json=body)
    assert response.status_code == 400
    error = response.json["error"]
    # marshmallow's internal key for "the object as a whole" is no field the client sent
    assert error["message"].startswith(f"{item}: must be an object")
    assert "_schema" not in str(error)
    index = int(item.split()[1])
    assert error["problems"][0]["index"] == index


def test_a_key_given_twice_in_one_object_is_refused_not_silently_overwritten(client):
    # json.loads would keep the last: a 'view' sent as 'complete' and stored without a word
    body = (
        '{"user_id": "u1", "course_id": "course_sql_basic", "event_type": "view",'
        ' "event_type": "complete"}'
    )
    response = client.post("/api/v1/interactions", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_json"
    assert "'event_type'" in response.json["error"]["message"]
    stats = client.get("/api/v1/recommendations/stats/user/u1").json
    assert stats["top_categories"] == []


def test_made_up_http_methods_share_one_metrics_label_so_a_scrape_stays_small(sqlite_url):
    # gunicorn passes any upper-case token as a method: each one a new series would let anyone
    # grow every scrape without bound
    client = make_app(sqlite_url, caught_up=False).test_client()
    for method in ("AAAB", "AAAC", "PROPFIND"):
        assert client.open("/healthz", method=method).status_code == 405
    scraped = client.get("/metrics").get_data(as_text=True)
    assert 'method="AAAB"' not in scraped and 'method="PROPFIND"' not in scraped
    assert 'recsys_http_requests_total{method="other",route="/healthz",status="405"}' in scraped


def test_a_method_a_path_does_not_take_is_counted_under_that_paths_route(sqlite_url):
    """A 405 is a request to a route that exists: an operator looking for who sends DELETE to
    the home list finds it under the route; only a path no route takes is "unmatched"."""
    client = make_app(sqlite_url, caught_up=False).test_client()
    assert client.delete("/api/v1/recommendations/home?user_id=u1").status_code == 405
    assert client.delete("/api/v1/courses/course_sql_basic").status_code == 405
    assert client.get("/no/such/path").status_code == 404
    scraped = client.get("/metrics").get_data(as_text=True)
    for route in ("/api/v1/recommendations/home", "/api/v1/courses/<id:course_id>"):
        assert f'{{method="DELETE",route="{route}",status="405"}}' in scraped, route
    assert '{method="GET",route="unmatched",status="404"}' in scraped
    assert 'route="unmatched",status="405"' not in scraped


def test_a_latin_1_body_that_says_so_is_read_in_latin_1(client):
    # an LMS written for Latin-1 was told its bytes are not UTF-8 and the é was lost
    body = '{"title": "Français", "description": "d", "category": "Languages"}'
    response = client.put(
        "/api/v1/courses/course_fr",
        data=body.encode("latin-1"),
        content_type="application/json; charset=ISO-8859-1",
    )
    assert response.status_code in (200, 201)
    assert client.get("/api/v1/courses/course_fr").json["title"] == "Français"


@pytest.mark.parametrize("charset", ["klingon", "base64", "unicode_escape", "undefined"])
def test_a_charset_the_service_does_not_know_is_a_415_naming_it(client, charset):
    # Python's codecs of bytes (base64) and its own (unicode_escape) name no charset
    response = client.post(
        "/api/v1/interactions",
        data=b'{"user_id": "u", "course_id": "course_sql_basic", "event_type": "view"}',
        content_type=f"application/json; charset={charset}",
    )
    assert response.status_code == 415
    assert f"charset '{charset}'" in response.json["error"]["message"]


def test_a_body_not_in_the_charset_it_names_is_told_so_not_that_it_is_no_utf_8(client):
    # windows-1252 has no character at 0x81: an LMS saying so was told its bytes were no UTF-8
    response = client.put(
        "/api/v1/courses/course_fr",
        data=b'{"title": "Fran\x81ais", "description": "d", "category": "Languages"}',
        content_type="application/json; charset=windows-1252",
    )
    assert response.status_code == 400
    message = response.json["error"]["message"]
    assert "not cp1252 at byte 15" in message and "UTF-8" not in message
