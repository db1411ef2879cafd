"""Signing in to and out of the dashboard, with and without an admin token configured."""

from __future__ import annotations

import io

from tests.e2e.conftest import make_app

TOKEN = "dashboard-t0ken"


def test_an_operator_signs_in_with_the_token_and_out_again(sqlite_url):
    client = make_app(sqlite_url, admin_token=TOKEN).test_client()
    signed_in = client.post("/dashboard/login", data={"token": TOKEN})
    assert signed_in.status_code == 303 and signed_in.location.endswith("/dashboard")
    assert client.get("/dashboard").status_code == 200
    signed_out = client.post("/dashboard/logout")
    assert signed_out.status_code == 303 and signed_out.location.endswith("/dashboard/login")
    assert client.get("/dashboard").status_code == 303


def test_a_wrong_token_shows_the_form_again_saying_so(sqlite_url):
    client = make_app(sqlite_url, admin_token=TOKEN).test_client()
    response = client.post("/dashboard/login", data={"token": "guess"})
    assert response.status_code == 401
    assert "That token is not the admin token" in response.text


def test_signing_out_without_an_admin_token_configured_goes_back_to_the_login_form(sqlite_url):
    client = make_app(sqlite_url, admin_token="").test_client()
    response = client.post("/dashboard/logout")
    assert response.status_code == 303 and response.location.endswith("/dashboard/login")


def test_signing_in_without_an_admin_token_configured_says_none_is(sqlite_url):
    client = make_app(sqlite_url, admin_token="").test_client()
    response = client.post("/dashboard/login", data={"token": "anything"})
    assert response.status_code == 403
    assert "No admin token is configured" in response.text
    assert "not the admin token" not in response.text


def test_a_sign_in_form_larger_than_the_body_limit_is_a_413_even_when_chunked(sqlite_url):
    client = make_app(sqlite_url, admin_token=TOKEN, max_body_bytes=1024).test_client()
    form = b"token=" + TOKEN.encode() + b"&padding=" + b"x" * 4000
    for headers, extra in (
        ({"Transfer-Encoding": "chunked"}, {"wsgi.input_terminated": True}),
        ({}, {}),
    ):
        response = client.post(
            "/dashboard/login",
            input_stream=io.BytesIO(form),
            content_type="application/x-www-form-urlencoded",
            headers=headers,
            environ_overrides=extra,
        )
        assert response.status_code == 413, headers
        assert response.json["error"]["code"] == "request_entity_too_large"
        assert "1024 bytes" in response.json["error"]["message"]
