"""Signing in to and out of the dashboard, with and without an admin token configured."""

from __future__ import annotations

import io
import socket

import pytest

from tests.e2e.conftest import make_app, read_only

TOKEN = "dashboard-t0ken"


def test_an_operator_signs_in_with_the_token_and_out_again(sqlite_url):
    client = make_app(sqlite_url, admin_token=TOKEN).test_client()
    signed_in = client.post("/dashboard/login", data={"token": TOKEN})
    assert signed_in.status_code == 303 and signed_in.location.endswith("/dashboard")
    assert client.get("/dashboard").status_code == 200
    signed_out = client.post("/dashboard/logout")
    assert signed_out.status_code == 303 and signed_out.location.endswith("/dashboard/login")
    assert client.get("/dashboard").status_code == 303


def test_a_sign_out_with_a_query_parameter_it_does_not_take_is_refused_and_keeps_the_session(
    sqlite_url,
):
    """As every admin and dashboard endpoint but the sign-in page refuses one (README, API)."""
    client = make_app(sqlite_url, admin_token=TOKEN).test_client()
    client.post("/dashboard/login", data={"token": TOKEN})
    refused = client.post("/dashboard/logout?next=/elsewhere")
    assert refused.status_code == 400 and refused.json["error"]["code"] == "validation_error"
    assert "next" in refused.json["error"]["message"]
    assert client.get("/dashboard").status_code == 200  # still signed in


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


@pytest.fixture
def hosts(database_url):  # type: ignore[no-untyped-def]
    """Two web hosts on one database (each app is a host's workers), and a third whose token
    was changed."""
    apps = [make_app(database_url, admin_token=t) for t in (TOKEN, TOKEN, "another-t0ken")]
    yield apps
    for app in apps:
        app.container.engine().dispose()


def _copy_of_the_cookie(browser, app):  # type: ignore[no-untyped-def]
    """What someone who copied the cookie (from a shared computer, say) sends, to `app`."""
    thief = app.test_client()
    thief.set_cookie("recsys_session", browser.get_cookie("recsys_session").value)
    return thief


def test_a_session_signed_out_on_one_host_is_refused_on_every_host(hosts):
    host_a, host_b, _ = hosts
    browser = host_a.test_client()
    assert browser.post("/dashboard/login", data={"token": TOKEN}).status_code == 303
    copied_to_b, copied_to_a = (
        _copy_of_the_cookie(browser, host_b),
        _copy_of_the_cookie(browser, host_a),
    )
    assert copied_to_b.get("/dashboard").status_code == 200  # one sign-in holds on every host
    assert browser.post("/dashboard/logout").status_code == 303
    for copy in (copied_to_a, copied_to_b):
        refused = copy.get("/dashboard")
        assert refused.status_code == 303 and refused.location.endswith("/dashboard/login")
        assert copy.get("/admin/recommendations/bandit").status_code == 401
    signed_out_on_b = _copy_of_the_cookie(copied_to_b, host_b)
    assert signed_out_on_b.post("/dashboard/logout").status_code == 303  # again: no error


def test_signing_in_again_ends_the_session_the_browser_held(hosts):
    """A copy taken before a second sign-in in the same browser is refused from then on: the
    sign-out that follows ends only the new session."""
    host_a, host_b, _ = hosts
    browser = host_a.test_client()
    browser.post("/dashboard/login", data={"token": TOKEN})
    copied = _copy_of_the_cookie(browser, host_b)
    assert browser.post("/dashboard/login", data={"token": TOKEN}).status_code == 303
    assert browser.get("/dashboard").status_code == 200
    assert copied.get("/dashboard").status_code == 303
    browser.post("/dashboard/logout")
    assert copied.get("/dashboard").status_code == 303


def test_signing_out_ends_only_that_session_and_changing_the_token_ends_them_all(hosts):
    host_a, host_b, new_token = hosts
    one, other = host_a.test_client(), host_b.test_client()
    for browser in (one, other):
        assert browser.post("/dashboard/login", data={"token": TOKEN}).status_code == 303
    one.post("/dashboard/logout")
    assert other.get("/dashboard").status_code == 200
    assert _copy_of_the_cookie(other, new_token).get("/dashboard").status_code == 303


def test_a_session_cannot_be_checked_or_ended_while_the_database_is_down(sqlite_url):
    """A 503 to retry, never a 500; and a sign-out that could not revoke says so, so the
    operator does not walk away from a session still open."""
    browser = make_app(sqlite_url, admin_token=TOKEN).test_client()
    browser.post("/dashboard/login", data={"token": TOKEN})
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = make_app(f"postgresql+psycopg://postgres@127.0.0.1:{port}/gone", admin_token=TOKEN)
    copy = _copy_of_the_cookie(browser, down)
    for response in (copy.get("/dashboard"), copy.post("/dashboard/logout")):
        assert response.status_code == 503 and response.headers["Retry-After"] == "5"
        assert response.json["error"]["code"] == "database_unavailable"
    assert copy.get_cookie("recsys_session") is not None


BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_a_browser_opening_the_dashboard_while_the_database_is_down_gets_a_page_saying_so(
    sqlite_url,
):
    """An operator saw the API's JSON as raw text. A page says the database cannot be reached
    and reloads itself once Retry-After has passed; a script asking for JSON still gets JSON."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = make_app(f"postgresql+psycopg://postgres@127.0.0.1:{port}/gone", admin_token="")
    client = down.test_client()
    page = client.get("/dashboard?days=30&refresh=60", headers={"Accept": BROWSER})
    assert page.status_code == 503 and page.headers["Retry-After"] == "5"
    assert page.mimetype == "text/html"
    assert "database cannot be reached" in page.text
    assert '<meta http-equiv="refresh" content="5">' in page.text
    assert "{" not in page.text.split("</style>")[-1], "no JSON in the page"
    for accept in ("application/json", "*/*", None):
        script = client.get("/dashboard", headers={"Accept": accept} if accept else {})
        assert script.status_code == 503 and script.headers["Retry-After"] == "5", accept
        assert script.json["error"]["code"] == "database_unavailable", accept
    spec = make_app(sqlite_url).test_client().get("/openapi.json").json
    documented = spec["paths"]["/dashboard"]["get"]["responses"]["503"]["content"]
    assert {"text/html", "application/json"} <= set(documented)


def test_a_form_another_sites_page_posts_neither_counts_nor_acts_with_the_session(sqlite_url):
    """Any page the operator opens could post wrong tokens to the sign-in form (it takes no
    cookie) until the operator's address is held off; a page of a sibling host, which gets the
    SameSite=Strict cookie, could sign out or queue work."""
    client = make_app(sqlite_url, admin_token=TOKEN).test_client()
    foreign, own = {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-origin"}
    for i in range(12):
        posted = client.post("/dashboard/login", data={"token": f"guess{i}"}, headers=foreign)
        assert posted.status_code == 403 and "another site" in posted.text
    assert client.post("/dashboard/login", data={"token": TOKEN}, headers=own).status_code == 303
    sibling = {"Sec-Fetch-Site": "same-site"}
    assert client.post("/admin/recommendations/reindex", headers=sibling).status_code == 401
    assert client.post("/dashboard/logout", headers=sibling).status_code == 403
    assert client.get("/dashboard", headers=sibling).status_code == 200  # a link still opens it
    assert client.post("/dashboard/logout", headers=own).status_code == 303
    assert client.get("/dashboard").status_code == 303


def test_a_browser_without_fetch_metadata_is_judged_by_the_origin_it_names(sqlite_url):
    """Safari before 16.4 and Firefox before 90 send no Sec-Fetch-Site: a sibling host's page
    could sign the operator out or queue work with the session, and any page could post wrong
    tokens. Such browsers still name the posting page's origin; a script names none."""
    client = make_app(sqlite_url, admin_token=TOKEN).test_client()
    sibling, sandboxed = {"Origin": "https://evil.example.org"}, {"Origin": "null"}
    for i, foreign in enumerate((sibling, sandboxed) * 6):
        posted = client.post("/dashboard/login", data={"token": f"guess{i}"}, headers=foreign)
        assert posted.status_code == 403 and "another site" in posted.text, foreign
    own = {"Origin": "http://LOCALHOST:80"}  # the test client's host, as a browser may spell it
    assert client.post("/dashboard/login", data={"token": TOKEN}, headers=own).status_code == 303
    assert client.post("/admin/recommendations/reindex", headers=sibling).status_code == 401
    assert client.post("/dashboard/logout", headers=sibling).status_code == 403
    assert client.get("/dashboard", headers=sibling).status_code == 200  # a link still opens it
    assert client.post("/dashboard/logout", headers=own).status_code == 303
    assert client.get("/dashboard").status_code == 303
    script = client.post("/dashboard/login", data={"token": TOKEN})  # no Origin: not refused
    assert script.status_code == 303


def test_a_form_relayed_by_a_proxy_is_judged_by_the_host_the_browser_addressed(sqlite_url, caplog):
    """Behind a proxy that sends its upstream's name as Host (nginx's default), a browser's own
    sign-in form names another origin: the host the proxy says it relayed the request for is
    this service's too, and a refusal says what was compared and what to change."""
    client = make_app(sqlite_url, admin_token=TOKEN).test_client()
    page = {"Host": "127.0.0.1:8000", "Origin": "http://recs.internal:8080"}
    for relayed in (
        {"X-Forwarded-Host": "recs.internal:8080"},
        {"Forwarded": 'for=10.0.0.7;host="recs.internal:8080";proto=http'},
    ):
        signed_in = client.post("/dashboard/login", data={"token": TOKEN}, headers=page | relayed)
        assert signed_in.status_code == 303, relayed
    refused = client.post("/dashboard/login", data={"token": TOKEN}, headers=page)
    assert refused.status_code == 403
    (said,) = [r.getMessage() for r in caplog.records if "refused a form" in r.getMessage()]
    assert "'http://recs.internal:8080'" in said and "127.0.0.1:8000" in said
    assert "proxy_set_header Host $http_host" in said


def test_a_script_with_a_wrong_token_is_told_so_not_sent_to_the_sign_in_form(sqlite_url):
    """As on the admin endpoints, a wrong token is a 403 (counted as wrong): sent to the sign-in
    form, whose page answers 200, a script took it for the dashboard answering. Without any
    credentials, a browser is sent to the form."""
    client = make_app(sqlite_url, admin_token=TOKEN).test_client()
    wrong = client.get("/dashboard", headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 403 and wrong.json["error"]["code"] == "forbidden"
    assert client.get("/dashboard").status_code == 303
    right = client.get("/dashboard", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200


@pytest.mark.postgres
def test_signing_in_or_out_while_the_database_refuses_writes_is_a_503_to_retry(postgres_url):
    """A read-only PostgreSQL (a standby) answers reads and refuses writes: opening or revoking
    a session was a 500. Like an outage, it is a 503 to retry, and the session stays open."""

    from tests.e2e.test_openapi import _response

    app = make_app(postgres_url, admin_token=TOKEN)
    browser = app.test_client()
    assert browser.post("/dashboard/login", data={"token": TOKEN}).status_code == 303
    read_only(app)
    engine = app.container.engine()

    newcomer = app.test_client()
    spec = browser.get("/openapi.json").json
    for path, response in (
        ("/dashboard/logout", browser.post("/dashboard/logout")),
        ("/dashboard/login", browser.post("/dashboard/login", data={"token": TOKEN})),
        ("/dashboard/login", newcomer.post("/dashboard/login", data={"token": TOKEN})),
    ):
        assert response.status_code == 503 and response.headers["Retry-After"] == "5"
        assert response.json["error"]["code"] == "database_unavailable"
        assert _response(spec, path, "post", "503").is_valid(response.json)
    assert browser.get("/dashboard").status_code == 200  # still signed in, as it was told
    assert newcomer.get("/dashboard").status_code == 303
    engine.dispose()
