"""Everything a running sandbox holds: companies, tokens, limiters, faults and counters."""

from __future__ import annotations

import random
from typing import Any

from qbo_backfill.sandbox.auth import AuthServer
from qbo_backfill.sandbox.clock import SandboxClock
from qbo_backfill.sandbox.company import Company
from qbo_backfill.sandbox.config import SandboxConfig, derive_credentials
from qbo_backfill.sandbox.faults import FaultSpec
from qbo_backfill.sandbox.generate import generate_company
from qbo_backfill.sandbox.limits import RealmLimiter
from qbo_backfill.sandbox.webhooks import WebhookSender

__all__ = ["SandboxState"]


class SandboxState:
    """Everything the server holds: companies, tokens, limiters, faults and counters."""

    def __init__(self, config: SandboxConfig, base_url: str) -> None:
        config.validate()
        self.config = config
        self.base_url = base_url
        self.credentials = derive_credentials(config)
        self.clock = SandboxClock()
        now = self.clock.now()
        self.auth = AuthServer(
            client_id=self.credentials.client_id,
            client_secret=self.credentials.client_secret,
            rotation=config.rotation(),
            grace_seconds=config.refresh_grace_seconds,
            access_ttl=config.access_token_ttl,
        )
        self.companies: dict[str, Company] = {}
        self.limiters: dict[str, RealmLimiter] = {}
        for index, realm in enumerate(self.credentials.realm_ids):
            data = generate_company(
                config.seed,
                realm,
                index,
                (config.customers, config.items, config.invoices),
                (config.invoice_start, config.invoice_end),
                config.other_count(),
            )
            self.companies[realm] = Company(realm, data, config.prerender)
            self.limiters[realm] = RealmLimiter(
                config.rate_limit_per_min,
                config.rate_limit_per_sec,
                config.max_in_flight,
                config.batch_limit_per_min,
            )
            self.auth.seed_refresh_token(realm, self.credentials.refresh_tokens[realm], now)
        # (realm, report name) -> a payload served verbatim instead of the computed report
        self.report_replays: dict[tuple[str, str], bytes] = {}
        self.webhooks = WebhookSender(config) if config.webhook_url else None
        if self.webhooks is not None:
            for company in self.companies.values():
                company.listener = self.webhooks.notice
        self.faults = FaultSpec.parse(config.faults, default_seed=config.seed)
        self.oauth_counters = self._zero_oauth()
        self._latency = random.Random(f"latency:{config.seed}")

    @staticmethod
    def _zero_oauth() -> dict[str, int]:
        return {"refresh": 0, "authorization_code": 0, "invalid_grant": 0, "invalid_client": 0}

    def reset_counters(self) -> None:
        """Zero every counter, limiter window and fault sequence."""
        for limiter in self.limiters.values():
            limiter.reset()
        self.oauth_counters = self._zero_oauth()
        if self.webhooks is not None:
            self.webhooks.reset()

    def counters(self, realm: str | None = None) -> dict[str, Any]:
        """The JSON of `GET /_sandbox/counters`."""
        realms = {
            name: limiter.counters.to_dict()
            for name, limiter in self.limiters.items()
            if realm is None or name == realm
        }
        answer: dict[str, Any] = {"realms": realms, "oauth": dict(self.oauth_counters)}
        if self.webhooks is not None:
            answer["webhooks"] = self.webhooks.counts()
        return answer

    def latency(self) -> float:
        """This request's injected delay in seconds."""
        base, jitter = self.config.latency_ms, self.config.latency_jitter_ms
        if not (base or jitter):
            return 0.0
        return max(0.0, base + self._latency.uniform(-jitter, jitter)) / 1000.0

    # ---- URLs -----------------------------------------------------------------------
    def url(self, path: str) -> str:
        """An absolute URL on this server."""
        return self.base_url + path

    def discovery(self) -> dict[str, Any]:
        """The OpenID discovery document, naming this server's endpoints."""
        return {
            "issuer": self.url("/op/v1"),
            "authorization_endpoint": self.url("/connect/oauth2"),
            "token_endpoint": self.url("/oauth2/v1/tokens/bearer"),
            "userinfo_endpoint": self.url("/v1/openid_connect/userinfo"),
            "revocation_endpoint": self.url("/v2/oauth2/tokens/revoke"),
            "jwks_uri": self.url("/op/v1/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile", "address", "phone"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
        }
