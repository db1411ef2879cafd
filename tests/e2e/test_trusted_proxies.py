"""Behind reverse proxies (RS_TRUSTED_PROXIES): each client is counted and logged by its own
address, as the proxies report it, and a request they relay is never one made on this machine."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from entrypoints.cli import cli
from entrypoints.config import ConfigError, load_settings
from tests.e2e.conftest import make_app

KEY = "lms-backend-key-0123456789"
PROXY = "10.0.0.2"  # nginx, on another host: every request reaches the service from it
URL = "/api/v1/courses?limit=1"


def _through_proxy(client, client_address: str, key: str, sent_for: str = "") -> int:  # type: ignore[no-untyped-def]
    """A request `client_address` sends to nginx, which appends the address to X-Forwarded-For
    ($proxy_add_x_forwarded_for) after whatever the client put there itself."""
    forwarded = f"{sent_for}, {client_address}" if sent_for else client_address
    headers = {"X-API-Key": key, "X-Forwarded-For": forwarded, "X-Forwarded-Proto": "https"}
    response = client.get(URL, headers=headers, environ_base={"REMOTE_ADDR": PROXY})
    return int(response.status_code)


def _guess_ten_times(client, client_address: str) -> None:  # type: ignore[no-untyped-def]
    guesses = {_through_proxy(client, client_address, f"guess{i}") for i in range(10)}
    assert guesses == {403}


def test_behind_a_trusted_proxy_a_guessing_client_does_not_hold_off_the_lms_backend(
    sqlite_url, caplog
):
    client = make_app(sqlite_url, api_key=KEY, trusted_proxies=1).test_client()
    _guess_ten_times(client, "203.0.113.5")
    assert _through_proxy(client, "198.51.100.7", KEY) == 200  # the LMS backend, keyed
    assert _through_proxy(client, "203.0.113.5", KEY) == 429  # the guesser, held off
    # what the guesser writes in X-Forwarded-For itself is not trusted: the proxy's entry is
    assert _through_proxy(client, "203.0.113.5", KEY, sent_for="192.0.2.99") == 429
    warnings = [r.getMessage() for r in caplog.records if r.name == "recsys.auth"]
    assert warnings[0] == "wrong API key from 203.0.113.5 (GET /api/v1/courses)"
    logged = {r.remote_addr for r in caplog.records if r.name == "recsys.access"}  # type: ignore[attr-defined]
    assert logged == {"203.0.113.5", "198.51.100.7"}


def test_without_trusted_proxies_every_client_behind_the_proxy_shares_its_count(sqlite_url, caplog):
    client = make_app(sqlite_url, api_key=KEY).test_client()
    _guess_ten_times(client, "203.0.113.5")
    assert _through_proxy(client, "198.51.100.7", KEY) == 429
    logged = {r.remote_addr for r in caplog.records if r.name == "recsys.access"}  # type: ignore[attr-defined]
    assert logged == {PROXY}


@pytest.mark.parametrize("trusted", [0, 1, 2])
@pytest.mark.parametrize("sent_for", ["127.0.0.1", "203.0.113.5", "203.0.113.5, 127.0.0.1"])
def test_a_request_a_proxy_here_relays_is_never_made_on_this_machine(sqlite_url, trusted, sent_for):
    """Without a token the admin endpoints answer this machine only: a proxy on it relays from
    loopback, and under RS_TRUSTED_PROXIES the client's address it reports may be loopback too."""
    client = make_app(sqlite_url, admin_token="", trusted_proxies=trusted).test_client()
    url = "/admin/recommendations/models"
    loopback = {"REMOTE_ADDR": "127.0.0.1"}
    assert client.get(url, environ_base=loopback).status_code == 200
    relayed = client.get(url, headers={"X-Forwarded-For": sent_for}, environ_base=loopback)
    assert relayed.status_code == 403
    assert "no request a proxy relays" in relayed.json["error"]["message"]


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("11", "less than or equal to 10"),
        ("-1", "greater than or equal to 0"),
        ("one", "valid integer"),
    ],
)
def test_a_trusted_proxy_count_out_of_range_is_a_one_line_error_at_start(
    monkeypatch, value, allowed
):
    with pytest.raises(ConfigError, match=f"^invalid setting RS_TRUSTED_PROXIES='{value}': "):
        load_settings({"RS_TRUSTED_PROXIES": value})
    monkeypatch.setenv("RS_TRUSTED_PROXIES", value)
    result = CliRunner().invoke(cli, ["show-config"])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: invalid setting RS_TRUSTED_PROXIES='{value}': ")
    assert allowed in result.output and len(result.output.splitlines()) == 1


def test_show_config_shows_the_trusted_proxies_and_where_the_count_came_from(monkeypatch):
    assert load_settings({})["trusted_proxies"] == 0
    monkeypatch.setenv("RS_TRUSTED_PROXIES", "2")
    shown = json.loads(CliRunner().invoke(cli, ["show-config", "--json"]).output)
    assert shown["settings"]["trusted_proxies"] == 2
    assert shown["sources"]["trusted_proxies"] == "RS_TRUSTED_PROXIES (environment)"
