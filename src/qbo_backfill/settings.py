"""Configuration, validated once at the edge into a typed `Settings`.

Precedence, highest first: explicit overrides (CLI flags), the environment, a `.env` file,
Mage secrets (a lookup by the seed's names, e.g. `qb_refresh_token`), Docker-style secret
files under `/run/secrets/<seed name>`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

from dotenv import dotenv_values

from qbo_backfill import redact
from qbo_backfill.errors import ConfigError

SecretLookup = Callable[[str], str | None]

INTUIT_HOSTS = {
    "production": "https://quickbooks.api.intuit.com",
    "sandbox": "https://sandbox-quickbooks.api.intuit.com",
}
INTUIT_TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
INTUIT_AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"


class Secret:
    """A secret value that never prints: `str()` and `repr()` show only asterisks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The real value, for the one place that must send it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# setting name -> (environment variable, seed/Mage secret name)
_SOURCES: dict[str, tuple[str, str | None]] = {
    "client_id": ("QBO_CLIENT_ID", "qb_client_id"),
    "client_secret": ("QBO_CLIENT_SECRET", "qb_client_secret"),
    "realm_id": ("QBO_REALM_ID", "qb_realm_id"),
    "refresh_token": ("QBO_REFRESH_TOKEN", "qb_refresh_token"),
    "environment": ("QBO_ENVIRONMENT", None),
    "api_base_url": ("QBO_API_BASE_URL", None),
    "token_url": ("QBO_TOKEN_URL", None),
    "authorize_url": ("QBO_AUTHORIZE_URL", None),
    "database_url": ("QBO_DATABASE_URL", None),
    "token_key": ("QBO_TOKEN_KEY", None),
    "home": ("QBO_HOME", None),
    "pg_host": ("PG_HOST", "pg_host"),
    "pg_port": ("PG_PORT", "pg_port"),
    "pg_dbname": ("PG_DBNAME", "pg_dbname"),
    "pg_user": ("PG_USER", "pg_user"),
    "pg_password": ("PG_PASSWORD", "pg_password"),
    "schema": ("QBO_SCHEMA", "pg_schema"),
    "views_schema": ("QBO_VIEWS_SCHEMA", None),
    "requests_per_minute": ("QBO_REQUESTS_PER_MINUTE", None),
    "max_in_flight": ("QBO_MAX_IN_FLIGHT", None),
    "retry_attempts": ("QBO_RETRY_ATTEMPTS", None),
    "backoff_seconds": ("QBO_BACKOFF_SECONDS", None),
    "throttle_wait_seconds": ("QBO_THROTTLE_WAIT_SECONDS", None),
    "request_timeout_seconds": ("QBO_REQUEST_TIMEOUT_SECONDS", None),
    "monthly_call_budget": ("QBO_MONTHLY_CALL_BUDGET", None),
    "webhook_verifier_token": ("QBO_WEBHOOK_VERIFIER_TOKEN", "qb_webhook_verifier_token"),
}
# The Mage Secrets names (the seed's qb_*/pg_* names), each with the `Settings` field it fills.
MAGE_SECRET_NAMES: dict[str, str] = {
    seed_name: name for name, (_, seed_name) in _SOURCES.items() if seed_name is not None
}


@dataclass(frozen=True)
class Settings:
    """Everything a run needs, validated; secrets typed as `Secret`."""

    client_id: str | None = None
    client_secret: Secret | None = None
    realm_id: str | None = None
    refresh_token: Secret | None = None
    environment: str = "sandbox"
    api_base_url: str = INTUIT_HOSTS["sandbox"]
    token_url: str = INTUIT_TOKEN_URL
    authorize_url: str = INTUIT_AUTHORIZE_URL
    database_url: Secret | None = None
    token_key: Secret | None = None
    home: Path = field(default_factory=lambda: Path(".qbo-backfill"))
    schema: str = "public"
    views_schema: str = "quickbooks"  # the typed views (docs/typed-views.md)
    requests_per_minute: int = 490
    max_in_flight: int = 10
    retry_attempts: int = 5
    backoff_seconds: float = 1.0
    throttle_wait_seconds: float = 60.0
    request_timeout_seconds: float = 60.0
    monthly_call_budget: int | None = None  # API calls per app and month; None: no limit
    webhook_verifier_token: Secret | None = None  # the key of Intuit's webhook signatures

    @property
    def uses_embedded_database(self) -> bool:
        """No database URL given: the embedded PostgreSQL under `home` is used."""
        return self.database_url is None

    def secret_values(self) -> list[str]:
        """Every secret's real value, so that output can be checked and scrubbed."""
        secrets = (
            self.client_secret,
            self.refresh_token,
            self.token_key,
            self.webhook_verifier_token,
        )
        values = [s.reveal() for s in secrets if s is not None]
        if self.database_url is not None:
            password = urlsplit(self.database_url.reveal()).password
            if password:
                values.append(password)
        return [v for v in values if v]

    @classmethod
    def load(
        cls,
        overrides: Mapping[str, object | None] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        dotenv_path: Path | None = Path(".env"),
        secret_lookup: SecretLookup | None = None,
        secrets_dir: Path = Path("/run/secrets"),
    ) -> Settings:
        """Read every source in precedence order and validate the result."""
        raw = _collect(overrides or {}, environ, dotenv_path, secret_lookup, secrets_dir)
        settings = _validate(raw)
        redact.register(settings.secret_values())
        return settings


def _collect(
    overrides: Mapping[str, object | None],
    environ: Mapping[str, str] | None,
    dotenv_path: Path | None,
    secret_lookup: SecretLookup | None,
    secrets_dir: Path,
) -> dict[str, str]:
    env = os.environ if environ is None else environ
    dotenv = _read_dotenv(dotenv_path)
    raw: dict[str, str] = {}
    for name, (env_var, seed_name) in _SOURCES.items():
        value = _first(
            overrides.get(name),
            env.get(env_var),
            dotenv.get(env_var),
            _lookup(secret_lookup, seed_name),
            _read_secret_file(secrets_dir, seed_name),
        )
        if value is not None:
            raw[name] = value
    return raw


def _first(*candidates: object | None) -> str | None:
    for candidate in candidates:
        if candidate is not None and str(candidate).strip() != "":
            return str(candidate).strip()
    return None


def _read_dotenv(path: Path | None) -> dict[str, str | None]:
    if path is None or not path.is_file():
        return {}
    return dotenv_values(path)


def _lookup(secret_lookup: SecretLookup | None, seed_name: str | None) -> str | None:
    if secret_lookup is None or seed_name is None:
        return None
    try:
        return secret_lookup(seed_name)
    except (KeyError, LookupError, ValueError):
        return None


def _read_secret_file(secrets_dir: Path, seed_name: str | None) -> str | None:
    if seed_name is None:
        return None
    path = secrets_dir / seed_name
    try:
        return path.read_text(encoding="utf-8").strip() if path.is_file() else None
    except OSError:
        return None


def _validate(raw: dict[str, str]) -> Settings:
    environment = raw.get("environment", "sandbox").lower()
    if environment not in INTUIT_HOSTS:
        raise ConfigError(f"QBO_ENVIRONMENT must be 'sandbox' or 'production', not {environment!r}")
    api_base_url = _http_url("QBO_API_BASE_URL", raw.get("api_base_url", INTUIT_HOSTS[environment]))
    return Settings(
        client_id=raw.get("client_id"),
        client_secret=_secret(raw.get("client_secret")),
        realm_id=_realm_id(raw.get("realm_id")),
        refresh_token=_secret(raw.get("refresh_token")),
        environment=environment,
        api_base_url=api_base_url.rstrip("/"),
        token_url=_http_url("QBO_TOKEN_URL", raw.get("token_url", INTUIT_TOKEN_URL)),
        authorize_url=_http_url(
            "QBO_AUTHORIZE_URL", raw.get("authorize_url", INTUIT_AUTHORIZE_URL)
        ),
        database_url=_database_url(raw),
        token_key=_secret(raw.get("token_key")),
        home=Path(raw.get("home", ".qbo-backfill")),
        schema=_schema(raw.get("schema", "public")),
        views_schema=_schema(raw.get("views_schema", "quickbooks")),
        requests_per_minute=_int(raw, "requests_per_minute", 490, minimum=1),
        max_in_flight=_int(raw, "max_in_flight", 10, minimum=1),
        retry_attempts=_int(raw, "retry_attempts", 5, minimum=1),
        backoff_seconds=_float(raw, "backoff_seconds", 1.0),
        throttle_wait_seconds=_float(raw, "throttle_wait_seconds", 60.0),
        request_timeout_seconds=_float(raw, "request_timeout_seconds", 60.0, minimum=0.1),
        monthly_call_budget=(
            _int(raw, "monthly_call_budget", 0, minimum=1) if "monthly_call_budget" in raw else None
        ),
        webhook_verifier_token=_secret(raw.get("webhook_verifier_token")),
    )


def _secret(value: str | None) -> Secret | None:
    return Secret(value) if value else None


def _realm_id(value: str | None) -> str | None:
    if value is not None and not value.isdigit():
        raise ConfigError(f"the realm id must be digits (QBO's company id), not {value!r}")
    return value


def _http_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL, not {value!r}")
    return value


def _schema(value: str) -> str:
    # PostgreSQL keeps NAMEDATALEN-1 = 63 bytes of a name and silently drops the rest.
    if not value or len(value.encode("utf-8")) > 63 or "\x00" in value:
        raise ConfigError(f"schema name must be 1 to 63 bytes (UTF-8) without NUL, not {value!r}")
    return value


def _database_url(raw: dict[str, str]) -> Secret | None:
    url = raw.get("database_url")
    if url is None and "pg_host" in raw:
        url = _url_from_parts(raw)
    if url is None:
        return None
    if urlsplit(url).scheme not in ("postgresql", "postgres"):
        raise ConfigError("QBO_DATABASE_URL must start with postgresql://")
    return Secret(url)


def _url_from_parts(raw: dict[str, str]) -> str:
    user = quote(raw.get("pg_user", "postgres"), safe="")
    password = raw.get("pg_password")
    auth = f"{user}:{quote(password, safe='')}" if password else user
    port = _int(raw, "pg_port", 5432, minimum=1)
    dbname = quote(raw.get("pg_dbname", "postgres"), safe="")
    return f"postgresql://{auth}@{raw['pg_host']}:{port}/{dbname}"


def _int(raw: dict[str, str], name: str, default: int, *, minimum: int) -> int:
    text = raw.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{_env_name(name)} must be a whole number, not {text!r}") from None
    if value < minimum:
        raise ConfigError(f"{_env_name(name)} must be at least {minimum}, not {value}")
    return value


def _float(raw: dict[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    text = raw.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{_env_name(name)} must be a number, not {text!r}") from None
    if not value >= minimum:
        raise ConfigError(f"{_env_name(name)} must be at least {minimum}, not {value}")
    return value


def _env_name(name: str) -> str:
    return _SOURCES[name][0]
