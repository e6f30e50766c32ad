"""A Mage block's settings: Mage Secrets (the seed's qb_*/pg_* names) as one source among
the library's own, in the library's one order: flags > environment > .env > Mage Secrets >
/run/secrets (a block reads no .env and has no flags)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from qbo_backfill.errors import ConfigError
from qbo_backfill.settings import MAGE_SECRET_NAMES, SecretLookup, Settings

__all__ = ["MAGE_SECRETS", "load_settings", "mage_secret_lookup"]

# Mage Secret name (the seed's) -> `Settings` field: the library's own table.
MAGE_SECRETS: dict[str, str] = MAGE_SECRET_NAMES


def mage_secret_lookup(get_secret: Callable[..., str | None] | None = None) -> SecretLookup:
    """Mage's `get_secret_value` as a lookup: a missing or empty secret is None, quietly.

    Outside Mage (no `mage_ai` installed) every lookup is None.
    """
    getter = get_secret if get_secret is not None else _mage_get_secret_value()

    def lookup(name: str) -> str | None:
        if getter is None:
            return None
        # suppress_warning: Mage prints a warning for every secret it lacks; most come
        # from the environment instead, which is normal.
        value = getter(name, suppress_warning=True)
        return value.strip() or None if isinstance(value, str) else None

    return lookup


def _mage_get_secret_value() -> Callable[..., str | None] | None:
    try:
        from mage_ai.data_preparation.shared.secrets import get_secret_value
    except ImportError:
        return None
    getter: Callable[..., str | None] = get_secret_value
    return getter


def load_settings(
    lookup: SecretLookup | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    secrets_dir: Path = Path("/run/secrets"),
) -> Settings:
    """Settings for a block, in the library's one order: the environment, then Mage Secrets
    (the seed's names), then `/run/secrets`. No `.env` is read: in Mage the environment is
    the container's.
    """
    lookup = lookup if lookup is not None else mage_secret_lookup()
    env = os.environ if environ is None else environ
    settings = Settings.load(
        environ=env, dotenv_path=None, secret_lookup=lookup, secrets_dir=secrets_dir
    )
    if settings.database_url is None:
        raise ConfigError(
            "no database for the pipeline: set the Mage secrets pg_host, pg_port, pg_dbname, "
            "pg_user and pg_password (or PG_HOST... or QBO_DATABASE_URL in the environment)"
        )
    return settings
