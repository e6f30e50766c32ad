"""`auth login` end to end: the CLI listens, the sandbox's authorize page redirects back to
it, the code is exchanged and the tokens stored, and the stored grant then runs a backfill."""

from __future__ import annotations

import socket
import subprocess
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import psycopg
import pytest
from psycopg import sql
from tests.helpers import AssertNoSecrets, Cli

from qbo_backfill.auth import login
from qbo_backfill.errors import ConfigError, ReauthorizeError
from qbo_backfill.sandbox import Sandbox

pytestmark = pytest.mark.db


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_authorize_url(process: subprocess.Popen[str], authorize_url: str) -> tuple[str, list[str]]:
    """Lines the CLI printed up to and including the authorize URL."""
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith(authorize_url):
            return line.strip(), lines
    raise AssertionError(f"no authorize URL printed; stdout: {lines}")


def with_state(url: str, state: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | {"state": state}
    return urlunsplit(parts._replace(query=urlencode(query)))


def token_rows(cli: Cli) -> int:
    """Rows in the token store of the CLI's schema; 0 when it has no token table yet."""
    schema = cli.env["QBO_SCHEMA"]
    with psycopg.connect(cli.env["QBO_DATABASE_URL"]) as conn:
        exists = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f'"{schema}".qbo_backfill_tokens',)
        ).fetchone()
        if not exists or not exists[0]:
            return 0
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, "qbo_backfill_tokens"))
        ).fetchone()
    return int(row[0]) if row else 0


def test_login_listens_exchanges_stores_and_the_grant_works(
    cli: Cli, sandbox: Sandbox, assert_no_secrets: AssertNoSecrets
) -> None:
    redirect = f"http://127.0.0.1:{free_port()}/callback"
    env = cli.env.copy()
    del env["QBO_REFRESH_TOKEN"]  # a fresh setup: nothing but the app's keys
    process = Cli(env, cli.cwd).start("auth", "login", "--no-browser", "--redirect-uri", redirect)
    url, printed = read_authorize_url(process, sandbox.info.authorize_url)
    params = parse_qs(urlsplit(url).query)
    assert params["client_id"] == [sandbox.info.client_id]
    assert params["scope"] == ["com.intuit.quickbooks.accounting"]
    assert params["redirect_uri"] == [redirect]
    assert params["response_type"] == ["code"]
    assert len(params["state"][0]) >= 24

    browser = httpx.get(url, follow_redirects=True, timeout=30)
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 0, stderr
    assert browser.status_code == 200
    assert "Authorization received" in browser.text
    code = parse_qs(urlsplit(browser.history[0].headers["location"]).query)["code"][0]
    realm = sandbox.info.realm_id
    assert f"authorized: realm {realm} (sandbox)" in stdout
    statuses = cli.token_store().status()
    assert [(s.realm_id, s.environment) for s in statuses] == [(realm, "sandbox")]
    assert statuses[0].refresh_hard_expires_at is not None
    secrets = [*cli.stored_secrets(), code, sandbox.info.client_secret]
    assert_no_secrets([*printed, stdout, stderr, browser.text], secrets)

    # The stored grant is the only credential left: a backfill that uses it must work.
    run = Cli(env, cli.cwd).run("backfill", "Customer")
    assert run.returncode == 0, run.stderr
    assert_no_secrets([run.stdout, run.stderr], cli.stored_secrets())


@pytest.mark.parametrize("mode", ["listen", "paste"])
def test_login_refuses_a_forged_state_and_stores_nothing(
    cli: Cli, sandbox: Sandbox, mode: str
) -> None:
    redirect = f"http://127.0.0.1:{free_port()}/callback"
    args = ["auth", "login", "--no-browser", "--redirect-uri", redirect]
    process = cli.start(*args, *(["--paste"] if mode == "paste" else []))
    url, _ = read_authorize_url(process, sandbox.info.authorize_url)
    forged = with_state(url, "forged-by-someone-else")
    if mode == "listen":
        browser = httpx.get(forged, follow_redirects=True, timeout=30)
        assert browser.status_code == 400
        assert "Refused" in browser.text
        stdout, stderr = process.communicate(timeout=60)
    else:
        location = httpx.get(forged, follow_redirects=False, timeout=30).headers["location"]
        stdout, stderr = process.communicate(location + "\n", timeout=60)

    assert process.returncode == 2, stderr
    assert "state does not match" in stderr
    assert "authorized" not in stdout
    assert token_rows(cli) == 0


def test_login_by_pasting_the_redirect(
    cli: Cli, sandbox: Sandbox, assert_no_secrets: AssertNoSecrets
) -> None:
    # Any redirect URI works when pasted: nothing listens on it.
    process = cli.start(
        "auth", "login", "--paste", "--redirect-uri", "https://app.example.com/qbo/callback"
    )
    url, _ = read_authorize_url(process, sandbox.info.authorize_url)
    location = httpx.get(url, follow_redirects=False, timeout=30).headers["location"]
    assert location.startswith("https://app.example.com/qbo/callback?")
    stdout, stderr = process.communicate(location + "\n", timeout=60)

    assert process.returncode == 0, stderr
    assert f"authorized: realm {sandbox.info.realm_id}" in stdout
    # QBO_REFRESH_TOKEN is still set in this environment: the user is told to remove it.
    assert "QBO_REFRESH_TOKEN is also set" in stdout
    assert token_rows(cli) == 1
    code = parse_qs(urlsplit(location).query)["code"][0]
    secrets = [*cli.stored_secrets(), code]
    assert_no_secrets([stdout, stderr], secrets)


def test_an_authorization_code_works_once(cli: Cli, sandbox: Sandbox) -> None:
    settings = cli.settings()
    store = cli.token_store()
    redirect = login.RedirectUri.parse("http://localhost:8910/callback")
    state = login.new_state()
    url = login.authorize_url(settings, redirect, state)
    location = httpx.get(url, follow_redirects=False, timeout=30).headers["location"]
    response = login.read_redirect(location, state)

    first = login.complete_login(settings, store, response, redirect)
    assert first.realm_id == sandbox.info.realm_id
    with pytest.raises(ReauthorizeError, match="authorization code"):
        login.complete_login(settings, store, response, redirect)


def test_listener_ignores_other_paths_and_binds_loopback_only() -> None:
    port = free_port()
    redirect = login.RedirectUri.parse(f"http://localhost:{port}/cb")
    with login.LoopbackListener(redirect, "s" * 24, timeout=20) as listener:
        assert listener._server is not None
        assert listener._server.server_address[0] == "127.0.0.1"
        results: list[object] = []
        waiter = threading.Thread(target=lambda: results.append(listener.wait()))
        waiter.start()
        favicon = httpx.get(f"http://127.0.0.1:{port}/favicon.ico", timeout=10)
        callback = httpx.get(
            f"http://127.0.0.1:{port}/cb?code=abc123&state={'s' * 24}&realmId=42", timeout=10
        )
        waiter.join(timeout=20)
    assert favicon.status_code == 404
    assert callback.status_code == 200
    assert len(results) == 1
    assert isinstance(results[0], login.AuthorizationResponse)
    assert results[0].realm_id == "42"
    assert results[0].code.reveal() == "abc123"


def test_listener_gives_up_after_its_timeout() -> None:
    redirect = login.RedirectUri.parse(f"http://127.0.0.1:{free_port()}/callback")
    with (
        login.LoopbackListener(redirect, "state", timeout=1) as listener,
        pytest.raises(ConfigError, match="--paste"),
    ):
        listener.wait()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://x/cb?state=good&error=access_denied", "did not authorize"),
        ("http://x/cb?state=good&realmId=1", "no authorization code"),
        ("http://x/cb?state=good&code=c", "no company id"),
        ("http://x/cb?state=bad&code=c&realmId=1", "state does not match"),
        ("http://x/cb?code=c&realmId=1", "state does not match"),
    ],
)
def test_redirects_that_are_refused(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        login.read_redirect(url, "good")


def test_only_plain_http_loopback_redirects_can_be_listened_on() -> None:
    assert login.RedirectUri.parse("http://localhost:8910/callback").listenable
    assert login.RedirectUri.parse("http://127.0.0.1:9000/").listenable
    assert not login.RedirectUri.parse("https://localhost:8910/callback").listenable
    assert not login.RedirectUri.parse("http://192.168.1.5:8910/callback").listenable
    with pytest.raises(ConfigError, match="--paste"):
        login.LoopbackListener(login.RedirectUri.parse("https://app.example.com/cb"), "s", 1)
    with pytest.raises(ConfigError, match="http"):
        login.RedirectUri.parse("ftp://localhost/cb")


def test_login_without_app_keys_is_a_configuration_error(cli: Cli) -> None:
    env = {k: v for k, v in cli.env.items() if k != "QBO_CLIENT_SECRET"}
    result = Cli(env, cli.cwd).run("auth", "login", "--no-browser", "--paste", stdin="")
    assert result.returncode == 2
    assert "QBO_CLIENT_SECRET" in result.stderr


def test_a_busy_port_is_reported_in_one_line(cli: Cli, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = cli.run(
            "auth", "login", "--no-browser", "--redirect-uri", f"http://localhost:{port}/cb"
        )
    assert result.returncode == 2
    assert "choose another port" in result.stderr
    assert "Traceback" not in result.stderr
