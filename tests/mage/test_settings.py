"""Settings in a Mage block: the library's one order (environment, then Mage Secrets under
the seed's names, then `/run/secrets`); no `.env` is read inside Mage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qbo_backfill.errors import ConfigError
from qbo_backfill.integrations.mage import MAGE_SECRETS, load_settings, mage_secret_lookup
from qbo_backfill.settings import Secret, Settings

ENV = {
    "QBO_CLIENT_ID": "env-client",
    "QBO_CLIENT_SECRET": "env-secret-value",  # pragma: allowlist secret
    "QBO_REALM_ID": "111",
    "QBO_REFRESH_TOKEN": "env-refresh-token",
    "QBO_DATABASE_URL": "postgresql://envuser@envhost:5432/envdb",
}
SEED_NAMES = {
    "qb_client_id",
    "qb_client_secret",
    "qb_realm_id",
    "qb_refresh_token",
    "pg_host",
    "pg_port",
    "pg_dbname",
    "pg_user",
    "pg_password",
    "pg_schema",
    # Not the seed's own, but named in its style: the receiver of Intuit's webhooks.
    "qb_webhook_verifier_token",
}


class FakeMageSecrets:
    """Mage's `get_secret_value(name, ..., suppress_warning=...)`: None when missing."""

    def __init__(self, values: dict[str, str | None]) -> None:
        self.values = values
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, name: str, **kwargs: Any) -> str | None:
        self.calls.append((name, kwargs))
        return self.values.get(name)


def load(secrets: dict[str, str | None], env: dict[str, str], tmp_path: Path) -> Settings:
    lookup = mage_secret_lookup(FakeMageSecrets(secrets))
    return load_settings(lookup, environ=env, secrets_dir=tmp_path / "no-secrets")


def test_the_secret_names_are_the_seeds_and_the_webhook_token() -> None:
    assert set(MAGE_SECRETS) == SEED_NAMES


@pytest.mark.parametrize("name", sorted(SEED_NAMES))
def test_each_secret_maps_to_the_field_the_library_reads_it_into(name: str) -> None:
    # The library's own lookup by seed name is the reference: both must land in one field.
    # A pg_* part shows only in the database URL, which needs a host.
    base = {"pg_host": "db.example"} if name.startswith("pg_") and name != "pg_schema" else {}
    value = "5433" if name == "pg_port" else "42" if name == "qb_realm_id" else "some-value-1"
    given = base | {name: value}
    by_library = Settings.load(
        environ={}, dotenv_path=None, secret_lookup=given.get, secrets_dir=Path("/none")
    )
    overrides = {MAGE_SECRETS[n]: v for n, v in given.items()}
    by_glue = Settings.load(overrides, environ={}, dotenv_path=None, secrets_dir=Path("/none"))
    without = Settings.load(
        environ={}, dotenv_path=None, secret_lookup=base.get, secrets_dir=Path("/none")
    )
    assert by_glue == by_library
    assert by_library != without


def test_the_environment_wins_over_mage_secrets(tmp_path: Path) -> None:
    secrets = {
        "qb_client_id": "mage-client",
        "qb_client_secret": "mage-secret-value",  # pragma: allowlist secret
        "qb_realm_id": "222",
        "qb_refresh_token": "mage-refresh-token",
    }
    settings = load(secrets, ENV, tmp_path)
    assert settings.client_id == "env-client"
    assert settings.client_secret == Secret("env-secret-value")
    assert settings.realm_id == "111"
    assert settings.refresh_token == Secret("env-refresh-token")


@pytest.mark.parametrize("name", sorted(SEED_NAMES))
def test_a_block_reads_every_source_in_the_clis_order(name: str, tmp_path: Path) -> None:
    # The same environment and Mage Secrets, read by the block and by the library (as the
    # CLI does, with Mage's lookup as the secret source): one order, so one result.
    env = {"PG_HOST": "env-host", "PG_PORT": "5434", "QBO_SCHEMA": "env_schema"} | {
        k: v for k, v in ENV.items() if k != "QBO_DATABASE_URL"
    }
    value = "5433" if name == "pg_port" else "42" if name == "qb_realm_id" else "mage-value-1"
    lookup = mage_secret_lookup(FakeMageSecrets({name: value}))
    secrets_dir = tmp_path / "no-secrets"
    by_block = load_settings(lookup, environ=env, secrets_dir=secrets_dir)
    by_library = Settings.load(
        environ=env, dotenv_path=None, secret_lookup=lookup, secrets_dir=secrets_dir
    )
    assert by_block == by_library


def test_the_environment_fills_what_mage_lacks(tmp_path: Path) -> None:
    env = {k: v for k, v in ENV.items() if k != "QBO_REALM_ID"}
    settings = load({"qb_realm_id": "333", "qb_client_secret": ""}, env, tmp_path)
    assert settings.realm_id == "333"
    assert settings.client_id == "env-client"
    assert settings.client_secret == Secret("env-secret-value")  # an empty secret is missing
    assert settings.database_url == Secret(ENV["QBO_DATABASE_URL"])


def test_mage_pg_secrets_name_the_database_the_environment_does_not(tmp_path: Path) -> None:
    secrets = {"pg_host": "postgres", "pg_dbname": "qbo", "pg_user": "mage", "pg_schema": "raw"}
    env = {k: v for k, v in ENV.items() if k != "QBO_DATABASE_URL"}
    settings = load(secrets, env | {"PG_PASSWORD": "pw-from-env"}, tmp_path)
    assert settings.database_url == Secret("postgresql://mage:pw-from-env@postgres:5432/qbo")
    assert settings.schema == "raw"


def test_qbo_database_url_in_the_environment_wins_over_mage_pg_secrets(tmp_path: Path) -> None:
    secrets = {"pg_host": "postgres", "pg_dbname": "qbo", "pg_user": "mage"}
    settings = load(secrets, ENV, tmp_path)
    assert settings.database_url == Secret(ENV["QBO_DATABASE_URL"])


def test_no_database_is_a_clear_error_not_the_embedded_server(tmp_path: Path) -> None:
    env = {k: v for k, v in ENV.items() if k != "QBO_DATABASE_URL"}
    with pytest.raises(ConfigError, match="set the Mage secrets pg_host"):
        load({}, env, tmp_path)


def test_no_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("QBO_REALM_ID=999\n")
    monkeypatch.chdir(tmp_path)
    assert load({}, ENV, tmp_path).realm_id == "111"


def test_the_lookup_asks_mage_quietly_and_treats_empty_as_missing() -> None:
    fake = FakeMageSecrets({"qb_client_id": "  abc  ", "qb_realm_id": "", "pg_host": None})
    lookup = mage_secret_lookup(fake)
    assert lookup("qb_client_id") == "abc"
    assert lookup("qb_realm_id") is None
    assert lookup("pg_host") is None
    assert lookup("qb_refresh_token") is None
    assert all(kwargs == {"suppress_warning": True} for _, kwargs in fake.calls)


def test_outside_mage_every_lookup_is_none() -> None:
    try:
        import mage_ai  # noqa: F401
    except ImportError:
        assert mage_secret_lookup()("qb_client_id") is None
    else:
        pytest.skip("mage_ai is installed here; the Mage CI job covers the real lookup")


def test_settings_never_print_secrets(tmp_path: Path) -> None:
    settings = load({"qb_client_secret": "mage-secret-value"}, ENV, tmp_path)
    assert "mage-secret-value" not in repr(settings)
    assert "env-refresh-token" not in repr(settings)
