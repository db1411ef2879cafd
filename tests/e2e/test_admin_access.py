"""Who reaches the admin endpoints: the token (checked, throttled, never logged), not whoever
happens to connect from loopback."""

from __future__ import annotations

from tests.e2e.conftest import make_app

TOKEN = "admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _access_lines(caplog) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.getMessage() for r in caplog.records if r.name == "recsys.access"]


def test_a_secret_sent_in_the_query_string_is_not_written_to_the_access_log(sqlite_url, caplog):
    client = make_app(sqlite_url, admin_token=TOKEN).test_client()
    sent = f"/admin/recommendations/models?token={TOKEN}&Api_Key=k3y&x=1"
    assert client.get(sent).status_code == 401
    assert client.get("/api/v1/courses?limit=5&password=pw%20secret").status_code == 400
    lines = _access_lines(caplog)
    assert lines[0].startswith("GET /admin/recommendations/models?token=***&Api_Key=***&x=1 401")
    assert lines[1].startswith("GET /api/v1/courses?limit=5&password=*** 400")
    assert not any(secret in line for line in lines for secret in (TOKEN, "k3y", "pw"))
