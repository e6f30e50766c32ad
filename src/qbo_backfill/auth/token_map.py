"""Many companies' refresh tokens at once: a JSON map of realm id to refresh token (what the
sandbox's `--realms N` prints as `refresh_tokens`), read, checked and stored encrypted."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from qbo_backfill.auth.tokens import TokenStore
from qbo_backfill.errors import ConfigError
from qbo_backfill.settings import Secret

__all__ = ["import_token_map", "read_token_map"]


def read_token_map(path: Path) -> dict[str, Secret]:
    """`{"<realm id>": "<refresh token>", ...}` from `path`, or one ConfigError line.

    A whole sandbox start-up line (with its `refresh_tokens` map) is accepted too. No
    message ever quotes a token: a bad entry is named by its realm id or position.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {type(exc).__name__}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path} is not JSON (line {exc.lineno}, column {exc.colno}): expected "
            '{"<realm id>": "<refresh token>", ...}'
        ) from None
    if isinstance(document, dict) and isinstance(document.get("refresh_tokens"), dict):
        document = document["refresh_tokens"]
    if not isinstance(document, dict) or not document:
        raise ConfigError(
            f'{path} must hold a non-empty object {{"<realm id>": "<refresh token>"}}'
        )
    return {_realm(key, path): _token(key, value, path) for key, value in document.items()}


def _realm(key: object, path: Path) -> str:
    if not isinstance(key, str) or not key.isdigit():
        raise ConfigError(f"{path}: realm ids must be digits (QBO's company id), not {key!r}")
    return key


def _token(realm: str, value: object, path: Path) -> Secret:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{path}: the refresh token of realm {realm} must be a non-empty string")
    return Secret(value.strip())


def import_token_map(store: TokenStore, environment: str, tokens: Mapping[str, Secret]) -> int:
    """Store every realm's refresh token (replacing any stored one); how many were stored."""
    for realm_id, token in tokens.items():
        store.import_token(realm_id, environment, token, force=True)
    return len(tokens)
