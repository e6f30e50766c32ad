"""Intuit's OAuth 2.0 server, in memory: grants, rotation with a grace period, revocation."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from qbo_backfill.sandbox.config import RefreshRotation

__all__ = ["AuthServer", "GrantError", "TokenGrant"]

REFRESH_ROLLING_SECONDS = 8_726_400  # 101 days, the `x_refresh_token_expires_in` QBO reports
REFRESH_HARD_SECONDS = 5 * 365 * 86400  # the 5-year limit introduced in 2025
CODE_TTL_SECONDS = 600.0


class GrantError(Exception):
    """An OAuth error answer: `error` code, HTTP status and optional description."""

    def __init__(self, error: str, status: int, description: str | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.description = description

    def body(self) -> dict[str, str]:
        """The JSON body Intuit sends."""
        out = {"error": self.error}
        if self.description:
            out["error_description"] = self.description
        return out


@dataclass
class _Chain:
    """One authorization of one realm: its refresh tokens, newest last."""

    realm: str
    issued_at: float
    current: str
    current_issued_at: float
    refreshes_on_current: int = 0
    revoked: bool = False


@dataclass
class _RefreshToken:
    chain: _Chain
    superseded_at: float | None = None


@dataclass
class _AccessToken:
    realm: str
    chain: _Chain
    expires_at: float


@dataclass(frozen=True)
class TokenGrant:
    """What the token endpoint answers on success."""

    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    refresh_hard_expires_in: int
    realm: str


@dataclass
class _Code:
    realm: str
    redirect_uri: str
    expires_at: float


@dataclass
class AuthServer:
    """Clients, refresh-token chains and access tokens of all realms."""

    client_id: str
    client_secret: str
    rotation: RefreshRotation
    grace_seconds: float
    access_ttl: float
    _refresh: dict[str, _RefreshToken] = field(default_factory=dict)
    _access: dict[str, _AccessToken] = field(default_factory=dict)
    _codes: dict[str, _Code] = field(default_factory=dict)

    def seed_refresh_token(self, realm: str, token: str, now: float) -> None:
        """Register a realm's first refresh token (from the seed or the command line)."""
        chain = _Chain(realm, now, token, now)
        self._refresh[token] = _RefreshToken(chain)

    def check_client(self, client_id: str | None, client_secret: str | None) -> None:
        """GrantError invalid_client (401) unless the credentials are the app's."""
        ok_id = secrets.compare_digest((client_id or "").encode(), self.client_id.encode())
        ok_secret = secrets.compare_digest(
            (client_secret or "").encode(), self.client_secret.encode()
        )
        if not (ok_id and ok_secret):
            raise GrantError("invalid_client", 401)

    def refresh(self, token: str, now: float) -> TokenGrant:
        """The refresh_token grant: rotation per policy; superseded tokens live `grace`."""
        entry = self._refresh.get(token)
        if entry is None or entry.chain.revoked:
            raise GrantError("invalid_grant", 400, "Incorrect or invalid refresh token")
        if entry.superseded_at is not None and now - entry.superseded_at > self.grace_seconds:
            raise GrantError("invalid_grant", 400, "Incorrect or invalid refresh token")
        chain = entry.chain
        if _expired(chain, now):
            raise GrantError("invalid_grant", 400, "Incorrect or invalid refresh token")
        chain.refreshes_on_current += 1
        age = now - chain.current_issued_at
        if self.rotation.rotates(chain.refreshes_on_current, age):
            self._rotate(chain, now)
        return self._grant(chain, now)

    def _rotate(self, chain: _Chain, now: float) -> None:
        self._refresh[chain.current].superseded_at = now
        fresh = _new_refresh_token()
        chain.current, chain.current_issued_at, chain.refreshes_on_current = fresh, now, 0
        self._refresh[fresh] = _RefreshToken(chain)

    def _grant(self, chain: _Chain, now: float) -> TokenGrant:
        access = _new_access_token()
        self._access[access] = _AccessToken(chain.realm, chain, now + self.access_ttl)
        age = now - chain.current_issued_at
        return TokenGrant(
            access_token=access,
            refresh_token=chain.current,
            expires_in=int(self.access_ttl),
            refresh_expires_in=max(0, int(REFRESH_ROLLING_SECONDS - age)),
            refresh_hard_expires_in=max(0, int(REFRESH_HARD_SECONDS - (now - chain.issued_at))),
            realm=chain.realm,
        )

    def issue_code(self, realm: str, redirect_uri: str, now: float) -> str:
        """An authorization code for the authorize redirect (single use, 10 minutes)."""
        code = "AB11" + secrets.token_urlsafe(30)
        self._codes[code] = _Code(realm, redirect_uri, now + CODE_TTL_SECONDS)
        return code

    def exchange_code(self, code: str, redirect_uri: str | None, now: float) -> TokenGrant:
        """The authorization_code grant: a new chain for the code's realm."""
        entry = self._codes.pop(code, None)
        if entry is None or entry.expires_at < now:
            raise GrantError("invalid_grant", 400, "Incorrect or invalid authorization code")
        if redirect_uri != entry.redirect_uri:
            raise GrantError("invalid_grant", 400, "redirect_uri does not match the authorization")
        token = _new_refresh_token()
        chain = _Chain(entry.realm, now, token, now)
        self._refresh[token] = _RefreshToken(chain)
        return self._grant(chain, now)

    def revoke(self, token: str) -> bool:
        """Revoke the grant a refresh or access token belongs to; False if unknown."""
        chain = None
        if token in self._refresh:
            chain = self._refresh[token].chain
        elif token in self._access:
            chain = self._access[token].chain
        if chain is None:
            return False
        chain.revoked = True
        for access in [t for t, a in self._access.items() if a.chain is chain]:
            del self._access[access]
        return True

    def revoke_all(self) -> None:
        """Every refresh and access token of every realm stops working."""
        for entry in self._refresh.values():
            entry.chain.revoked = True
        self._access.clear()

    def expire_access_tokens(self, now: float) -> None:
        """Every access token issued so far is expired from now on."""
        for entry in self._access.values():
            entry.expires_at = min(entry.expires_at, now)

    def access_realm(self, token: str, now: float) -> str | None:
        """The realm an access token was issued for, or None if unknown or expired."""
        entry = self._access.get(token)
        if entry is None or entry.chain.revoked or entry.expires_at <= now:
            return None
        return entry.realm

    def current_refresh_token(self, realm: str) -> str | None:
        """The newest refresh token of the realm's first chain (for tests and the admin API)."""
        for token, entry in self._refresh.items():
            if entry.chain.realm == realm and entry.superseded_at is None:
                return token
        return None


def _expired(chain: _Chain, now: float) -> bool:
    """Past the rolling lifetime of the newest token, or the grant's 5-year hard limit."""
    return (
        now - chain.current_issued_at > REFRESH_ROLLING_SECONDS
        or now - chain.issued_at > REFRESH_HARD_SECONDS
    )


def _new_refresh_token() -> str:
    return "AB11" + secrets.token_urlsafe(36)


def _new_access_token() -> str:
    return "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0.." + secrets.token_urlsafe(48)
