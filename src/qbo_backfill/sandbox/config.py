"""Sandbox configuration, validated once, and what a started sandbox tells its users."""

from __future__ import annotations

import random
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson

from qbo_backfill.sandbox.faults import FaultSpec

__all__ = ["RefreshRotation", "SandboxConfig", "SandboxInfo", "derive_credentials"]

OTHER_RECORDS_MAX = 500  # the default's ceiling, so a million invoices stay cheap to start


@dataclass(frozen=True)
class RefreshRotation:
    """When a refresh hands out a new refresh token: every refresh, every N, or by token age."""

    every: int = 1
    age_seconds: float | None = None

    @classmethod
    def parse(cls, value: str | int) -> RefreshRotation:
        """Read `"every"`, an int N (or its digits), or `"age:SECONDS"`; ValueError otherwise."""
        if isinstance(value, int) and not isinstance(value, bool):
            return cls._every(value)
        text = str(value).strip().lower()
        if text == "every":
            return cls(every=1)
        if text.isdigit():
            return cls._every(int(text))
        if text.startswith("age:"):
            try:
                seconds = float(text[4:])
            except ValueError:
                seconds = -1.0
            if seconds < 0:
                raise ValueError(f"refresh_rotation: age must be seconds >= 0, got {value!r}")
            return cls(every=0, age_seconds=seconds)
        raise ValueError(f"refresh_rotation: expected 'every', N or 'age:SECONDS', got {value!r}")

    @classmethod
    def _every(cls, n: int) -> RefreshRotation:
        if n < 1:
            raise ValueError(f"refresh_rotation: N must be >= 1, got {n}")
        return cls(every=n)

    def rotates(self, refreshes_since_issue: int, token_age: float) -> bool:
        """Whether this refresh (the `refreshes_since_issue`-th on the token) issues a new one."""
        if self.age_seconds is not None:
            return token_age >= self.age_seconds
        return refreshes_since_issue % self.every == 0


@dataclass
class SandboxConfig:
    """Everything a sandbox is started with; every field has a usable default."""

    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 42
    realms: int = 1
    realm_ids: tuple[str, ...] = ()  # fixed company ids instead of ones derived from the seed
    customers: int = 200
    items: int = 50
    invoices: int = 2000
    other_records: int | None = None  # size of every other entity; None: from `invoices`
    invoice_start: date = date(2024, 1, 1)
    invoice_end: date = date(2026, 1, 1)
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    rate_limit_per_min: int = 500
    rate_limit_per_sec: int = 10
    max_in_flight: int = 10
    batch_limit_per_min: int = 40
    access_token_ttl: float = 3600.0
    refresh_rotation: str | int = "every"
    refresh_grace_seconds: float = 86400.0
    faults: str = ""
    client_id: str | None = None
    client_secret: str | None = None
    refresh_token: str | None = None
    prerender: bool = False  # build every record's JSON at start instead of when served
    report_cell_cap: int = 400_000  # a report answer past this many cells is cut, as QBO
    report_dense_rows: int = 0  # a report of more data rows answers 504; 0 = off
    webhook_url: str | None = None  # where change notifications go (sandbox/webhooks.py)
    webhook_verifier: str | None = None  # the key of their `intuit-signature`
    webhook_format: str = "cloudevents"  # or "legacy"
    webhook_delay_ms: float = 0.0  # events within this of the first go in one POST
    webhook_retry_scale: float = 1.0  # Intuit's retry schedule multiplied by this
    webhook_duplicates: int = 0  # extra copies of every POST
    webhook_reorder: bool = False  # a batch's events newest first

    def validate(self) -> None:
        """Raise ValueError with one clear line for the first bad value."""
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0..65535, got {self.port}")
        if self.realms < 1:
            raise ValueError(f"realms must be >= 1, got {self.realms}")
        _check_realm_ids(self.realm_ids)
        self._check_counts()
        if self.invoice_end <= self.invoice_start:
            raise ValueError(
                f"invoice_end ({self.invoice_end}) must be after "
                f"invoice_start ({self.invoice_start})"
            )
        for name in (
            "latency_ms",
            "latency_jitter_ms",
            "rate_limit_per_min",
            "rate_limit_per_sec",
            "max_in_flight",
            "batch_limit_per_min",
            "refresh_grace_seconds",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.report_cell_cap < 1:
            raise ValueError(f"report_cell_cap must be >= 1, got {self.report_cell_cap}")
        if self.report_dense_rows < 0:
            raise ValueError(f"report_dense_rows must be >= 0, got {self.report_dense_rows}")
        if self.access_token_ttl <= 0:
            raise ValueError(f"access_token_ttl must be > 0, got {self.access_token_ttl}")
        self.rotation()
        self._check_webhooks()
        FaultSpec.parse(self.faults, default_seed=self.seed)
        for name in ("client_id", "client_secret", "refresh_token"):
            value = getattr(self, name)
            if value is not None and (not value or any(c.isspace() for c in value)):
                raise ValueError(f"{name} must be a non-empty string without spaces")

    def _check_counts(self) -> None:
        for name in ("customers", "items", "invoices"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.invoices and not (self.customers and self.items):
            raise ValueError("invoices need at least one customer and one item")
        if self.other_records is not None and self.other_records < 0:
            raise ValueError(f"other_records must be >= 0, got {self.other_records}")
        if self.other_records and not (self.customers and self.items):
            raise ValueError("other_records need at least one customer and one item")

    def _check_webhooks(self) -> None:
        if self.webhook_format not in ("cloudevents", "legacy"):
            raise ValueError(
                f"webhook_format must be 'cloudevents' or 'legacy', got {self.webhook_format!r}"
            )
        for name in ("webhook_delay_ms", "webhook_retry_scale", "webhook_duplicates"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.webhook_url is None:
            return
        if not self.webhook_url.startswith(("http://", "https://")):
            raise ValueError(f"webhook_url must be an http(s) URL, got {self.webhook_url!r}")
        if not self.webhook_verifier:
            raise ValueError("webhook_url needs webhook_verifier (the key of the signatures)")

    def other_count(self) -> int:
        """Records per other entity: `other_records`, else invoices / 20, at most 500."""
        if self.other_records is not None:
            return self.other_records
        return min(OTHER_RECORDS_MAX, self.invoices // 20)

    def rotation(self) -> RefreshRotation:
        """The parsed refresh-token rotation policy."""
        return RefreshRotation.parse(self.refresh_rotation)


@dataclass(frozen=True)
class SandboxInfo:
    """Addresses and credentials of a running sandbox."""

    base_url: str
    token_url: str
    authorize_url: str
    revoke_url: str
    discovery_url: str
    client_id: str
    client_secret: str
    realm_id: str
    realm_ids: list[str] = field(default_factory=list)
    refresh_token: str = ""
    refresh_tokens: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The fields the CLI prints: `realm_ids`/`refresh_tokens` only with several realms."""
        out: dict[str, Any] = {
            "base_url": self.base_url,
            "token_url": self.token_url,
            "discovery_url": self.discovery_url,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "realm_id": self.realm_id,
            "refresh_token": self.refresh_token,
        }
        if len(self.realm_ids) > 1:
            out["realm_ids"] = list(self.realm_ids)
            out["refresh_tokens"] = dict(self.refresh_tokens)
        return out

    def to_json(self) -> str:
        """One line of JSON, as printed by `sandbox serve`."""
        return orjson.dumps(self.to_dict()).decode()


def _check_realm_ids(realm_ids: tuple[str, ...]) -> None:
    for realm in realm_ids:
        if not realm.isdigit() or len(realm) > 20:
            raise ValueError(f"a realm id is up to 20 digits, got {realm!r}")
    if len(set(realm_ids)) != len(realm_ids):
        raise ValueError("realm ids must differ")


@dataclass(frozen=True)
class Credentials:
    """The app's client credentials and each realm's first refresh token."""

    client_id: str
    client_secret: str
    realm_ids: list[str]
    refresh_tokens: dict[str, str]


def derive_credentials(config: SandboxConfig) -> Credentials:
    """Realm ids, client credentials and refresh tokens, all derived from the seed."""
    rng = random.Random(f"credentials:{config.seed}")
    alnum = string.ascii_letters + string.digits
    realm_ids: list[str] = []
    while len(realm_ids) < max(config.realms, len(config.realm_ids)):
        realm = str(rng.randrange(4_620_816_365_000_000, 9_341_454_000_000_000))
        if realm not in realm_ids:
            realm_ids.append(realm)
    if config.realm_ids:  # given ids replace the derived ones; the rest stays as derived
        realm_ids = list(config.realm_ids)
    client_id = config.client_id or "AB" + "".join(rng.choice(alnum) for _ in range(48))
    client_secret = config.client_secret or "".join(rng.choice(alnum) for _ in range(40))
    tokens: dict[str, str] = {}
    for index, realm in enumerate(realm_ids):
        generated = (
            "AB11"
            + str(rng.randrange(10**9, 10**10))
            + "".join(rng.choice(alnum) for _ in range(36))
        )
        tokens[realm] = config.refresh_token if (index == 0 and config.refresh_token) else generated
    return Credentials(client_id, client_secret, realm_ids, tokens)


def client_env(info: Mapping[str, Any]) -> dict[str, str]:
    """The environment variables that point `qbo-backfill` at a sandbox's first company,
    from the line `sandbox serve` prints (or `SandboxInfo.to_dict()`)."""
    return {
        "QBO_CLIENT_ID": info["client_id"],
        "QBO_CLIENT_SECRET": info["client_secret"],
        "QBO_REALM_ID": info["realm_id"],
        "QBO_REFRESH_TOKEN": info["refresh_token"],
        "QBO_API_BASE_URL": info["base_url"],
        "QBO_TOKEN_URL": info["token_url"],
    }
