"""OAuth 2.0 as Intuit serves it: grants, rotation, grace, errors, authorize, discovery, revoke."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import httpx

from qbo_backfill.sandbox import Sandbox

if TYPE_CHECKING:
    from tests.sandbox.conftest import Api


GRANT = {"grant_type": "refresh_token"}


def test_refresh_with_basic_auth_returns_intuit_fields(
    make_sandbox: Callable[..., Sandbox], http: httpx.Client, refresh: Callable[..., httpx.Response]
) -> None:
    sb = make_sandbox()
    response = refresh(http, sb, sb.info.refresh_token)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["x_refresh_token_expires_in"] == 8726400
    assert "x_refresh_token_hard_expires_in" not in body
    assert body["access_token"]
    assert body["refresh_token"]


def test_hard_expiry_only_when_asked_for(
    make_sandbox: Callable[..., Sandbox], http: httpx.Client, refresh: Callable[..., httpx.Response]
) -> None:
    sb = make_sandbox()
    header = {"x-include-refresh-token-hard-expires-in": "true"}
    body = refresh(http, sb, sb.info.refresh_token, **header).json()
    assert 157_000_000 < body["x_refresh_token_hard_expires_in"] <= 5 * 365 * 86400


def test_refresh_with_credentials_in_form_body(
    make_sandbox: Callable[..., Sandbox], http: httpx.Client
) -> None:
    sb = make_sandbox()
    info = sb.info
    response = http.post(
        info.token_url,
        data={
            **GRANT,
            "refresh_token": info.refresh_token,
            "client_id": info.client_id,
            "client_secret": info.client_secret,
        },
    )
    assert response.status_code == 200, response.text


def test_wrong_client_credentials_are_invalid_client(
    make_sandbox: Callable[..., Sandbox], http: httpx.Client
) -> None:
    sb = make_sandbox()
    info = sb.info
    for auth in ((info.client_id, "wrong"), ("nobody", info.client_secret), ("é", "ü")):
        response = http.post(
            info.token_url, auth=auth, data={**GRANT, "refresh_token": info.refresh_token}
        )
        assert response.status_code == 401
        assert response.json() == {"error": "invalid_client"}
    no_credentials = http.post(info.token_url, data={**GRANT, "refresh_token": info.refresh_token})
    assert no_credentials.status_code == 401
    assert sb.counters()["oauth"]["invalid_client"] == 4


def test_unknown_refresh_token_is_invalid_grant(
    make_sandbox: Callable[..., Sandbox], http: httpx.Client, refresh: Callable[..., httpx.Response]
) -> None:
    sb = make_sandbox()
    response = refresh(http, sb, "AB11not-a-token")
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "Incorrect or invalid refresh token",
    }
    assert sb.counters()["oauth"]["invalid_grant"] == 1


def test_unsupported_grant_type(make_sandbox: Callable[..., Sandbox], http: httpx.Client) -> None:
    sb = make_sandbox()
    info = sb.info
    response = http.post(
        info.token_url, auth=(info.client_id, info.client_secret), data={"grant_type": "password"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_rotation_every_refresh_and_grace_then_invalid_grant(
    make_sandbox: Callable[..., Sandbox], http: httpx.Client, refresh: Callable[..., httpx.Response]
) -> None:
    sb = make_sandbox(refresh_grace_seconds=1.0)
    first = sb.info.refresh_token
    second = refresh(http, sb, first).json()["refresh_token"]
    assert second != first
    # The superseded token still works inside the grace period ...
    again = refresh(http, sb, first)
    assert again.status_code == 200
    newest = again.json()["refresh_token"]
    time.sleep(1.2)
    # ... and answers invalid_grant after it, while the newest keeps working.
    assert refresh(http, sb, first).json()["error"] == "invalid_grant"
    assert refresh(http, sb, newest).status_code == 200


def test_rotation_every_n_refreshes(
    make_sandbox: Callable[..., Sandbox], http: httpx.Client, refresh: Callable[..., httpx.Response]
) -> None:
    sb = make_sandbox(refresh_rotation=3)
    token = sb.info.refresh_token
    seen = [refresh(http, sb, token).json()["refresh_token"] for _ in range(2)]
    assert seen == [token, token]
    third = refresh(http, sb, token).json()["refresh_token"]
    assert third != token


def test_rotation_by_age(
    make_sandbox: Callable[..., Sandbox], http: httpx.Client, refresh: Callable[..., httpx.Response]
) -> None:
    sb = make_sandbox(refresh_rotation="age:1.0")
    token = sb.info.refresh_token
    assert refresh(http, sb, token).json()["refresh_token"] == token
    time.sleep(1.1)
    assert refresh(http, sb, token).json()["refresh_token"] != token


def test_fixed_credentials_from_config(
    make_sandbox: Callable[..., Sandbox], http: httpx.Client, refresh: Callable[..., httpx.Response]
) -> None:
    sb = make_sandbox(client_id="my-app", client_secret="s3cret", refresh_token="AB11mine")
    assert (sb.info.client_id, sb.info.client_secret, sb.info.refresh_token) == (
        "my-app",
        "s3cret",
        "AB11mine",
    )
    assert refresh(http, sb, "AB11mine").status_code == 200


def test_access_token_expires_after_ttl(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    sb = make_sandbox(access_token_ttl=1.0)
    api = make_api(sb)
    assert api.query("SELECT COUNT(*) FROM Invoice").status_code == 200
    time.sleep(1.1)
    response = api.query("SELECT COUNT(*) FROM Invoice")
    assert response.status_code == 401
    error = response.json()["fault"]["error"][0]
    assert error["code"] == "3200"
    assert "AuthenticationFailed" in error["message"]


def test_missing_or_unknown_bearer_is_401(api: Api) -> None:
    url = api.base + "/query"
    no_header = api.http.get(url, params={"query": "SELECT * FROM Invoice"})
    unknown = api.http.get(url, params={"query": "SELECT * FROM Invoice"}, headers=api.headers("x"))
    for response in (no_header, unknown):
        assert response.status_code == 401
        assert response.json()["fault"]["type"] == "AUTHENTICATION"
        assert response.headers.get("intuit_tid")


def test_token_of_another_realm_is_forbidden(
    make_sandbox: Callable[..., Sandbox], make_api: Callable[..., Api]
) -> None:
    sb = make_sandbox(realms=2)
    first, second = sb.info.realm_ids
    api = make_api(sb, first)
    response = api.http.get(
        f"{sb.info.base_url}/v3/company/{second}/query",
        params={"query": "SELECT * FROM Invoice"},
        headers=api.headers(),
    )
    assert response.status_code == 403
    assert response.json()["Fault"]["Error"][0]["code"] == "3100"


def test_expire_access_tokens_then_refresh_recovers(
    own_api: Api, make_api: Callable[..., Api]
) -> None:
    api, sb = own_api, own_api.sb
    sb.expire_access_tokens()
    assert api.query("SELECT COUNT(*) FROM Customer").status_code == 401
    fresh = make_api(sb)
    assert fresh.query("SELECT COUNT(*) FROM Customer").status_code == 200


def test_revoke_all_tokens(
    make_sandbox: Callable[..., Sandbox],
    make_api: Callable[..., Api],
    http: httpx.Client,
    refresh: Callable[..., httpx.Response],
) -> None:
    sb = make_sandbox(realms=2)
    api = make_api(sb)
    sb.revoke_tokens()
    assert api.query("SELECT COUNT(*) FROM Customer").status_code == 401
    for token in sb.info.refresh_tokens.values():
        assert refresh(http, sb, token).json()["error"] == "invalid_grant"


def test_revoke_endpoint_kills_the_grant(
    make_sandbox: Callable[..., Sandbox], http: httpx.Client, refresh: Callable[..., httpx.Response]
) -> None:
    sb = make_sandbox()
    info = sb.info
    body = refresh(http, sb, info.refresh_token).json()
    revoked = http.post(
        info.revoke_url,
        auth=(info.client_id, info.client_secret),
        json={"token": body["refresh_token"]},
    )
    assert revoked.status_code == 200
    assert refresh(http, sb, body["refresh_token"]).json()["error"] == "invalid_grant"
    query = http.get(
        f"{info.base_url}/v3/company/{info.realm_id}/query",
        params={"query": "SELECT COUNT(*) FROM Item"},
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert query.status_code == 401
    wrong_client = http.post(info.revoke_url, auth=("x", "y"), json={"token": "t"})
    assert wrong_client.status_code == 401


def test_discovery_document_names_the_endpoints(
    make_sandbox: Callable[..., Sandbox], http: httpx.Client
) -> None:
    sb = make_sandbox()
    info = sb.info
    for url in (info.discovery_url, info.discovery_url + "/"):
        doc = http.get(url).json()
        assert doc["token_endpoint"] == info.token_url
        assert doc["authorization_endpoint"] == info.authorize_url
        assert doc["revocation_endpoint"] == info.revoke_url
        for key in ("issuer", "userinfo_endpoint", "jwks_uri"):
            assert doc[key].startswith(info.base_url)
    sandbox_doc = http.get(info.base_url + "/.well-known/openid_sandbox_configuration/")
    assert sandbox_doc.json()["token_endpoint"] == info.token_url
    assert http.get(doc["jwks_uri"]).json() == {"keys": []}


def test_authorize_redirects_with_code_state_realm_then_code_grant(
    make_sandbox: Callable[..., Sandbox], http: httpx.Client, refresh: Callable[..., httpx.Response]
) -> None:
    sb = make_sandbox()
    info = sb.info
    redirect = "http://localhost:8400/callback"
    page = http.get(
        info.authorize_url,
        params={
            "client_id": info.client_id,
            "redirect_uri": redirect,
            "response_type": "code",
            "scope": "com.intuit.quickbooks.accounting",
            "state": "xyz",
        },
    )
    assert page.status_code == 302
    location = urlsplit(page.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect
    params = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert params["state"] == "xyz"
    assert params["realmId"] == info.realm_id
    grant = {"grant_type": "authorization_code", "code": params["code"], "redirect_uri": redirect}
    auth = (info.client_id, info.client_secret)
    tokens = http.post(info.token_url, auth=auth, data=grant)
    assert tokens.status_code == 200, tokens.text
    assert refresh(http, sb, tokens.json()["refresh_token"]).status_code == 200
    reused = http.post(info.token_url, auth=auth, data=grant)
    assert reused.json()["error"] == "invalid_grant"
    assert sb.counters()["oauth"]["authorization_code"] == 1


def test_authorize_rejects_bad_client_and_redirect_mismatch(
    make_sandbox: Callable[..., Sandbox], http: httpx.Client
) -> None:
    sb = make_sandbox()
    info = sb.info
    base = {"redirect_uri": "http://localhost/cb", "response_type": "code", "state": "s"}
    bad = http.get(info.authorize_url, params={**base, "client_id": "nope"})
    assert bad.status_code == 400
    page = http.get(info.authorize_url, params={**base, "client_id": info.client_id})
    code = parse_qs(urlsplit(page.headers["Location"]).query)["code"][0]
    mismatch = http.post(
        info.token_url,
        auth=(info.client_id, info.client_secret),
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": "http://evil/cb"},
    )
    assert mismatch.status_code == 400
    assert mismatch.json()["error"] == "invalid_grant"
