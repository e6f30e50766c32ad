"""The token store (encrypted, row-locked, in PostgreSQL) and the access-token provider.

Intuit rotates refresh tokens; losing the newest one is the most common failure of peer
tools. Every rotated token is written, encrypted, in the same transaction that received
it, under a row lock, so two processes never spend the same refresh token.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from cryptography.fernet import Fernet, InvalidToken
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from qbo_backfill.auth.oauth import REAUTHORIZE_HINT, ClientCredentials, TokenGrant, refresh_grant
from qbo_backfill.errors import ConfigError, ReauthorizeError
from qbo_backfill.load.db import DDL_LOCK, connect, ensure_schema
from qbo_backfill.settings import Secret, Settings

# Refresh when the access token has less than this left: Intuit asks apps to refresh only
# when the token has expired, and a margin avoids racing the expiry mid-request.
EXPIRY_MARGIN = timedelta(seconds=60)
TOKEN_TABLE = "qbo_backfill_tokens"


class TokenCipher:
    """Fernet encryption keyed by QBO_TOKEN_KEY (any passphrase, or a Fernet key)."""

    def __init__(self, key: Secret) -> None:
        digest = hashlib.sha256(key.reveal().encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))
        self._mac_key = hashlib.sha256(b"mac:" + digest).digest()

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenCipher:
        """QBO_TOKEN_KEY, or a key generated once into QBO_HOME/token.key (mode 0600)."""
        return cls(settings.token_key or _local_key(settings.home))

    def encrypt(self, value: Secret) -> bytes:
        return self._fernet.encrypt(value.reveal().encode())

    def decrypt(self, blob: bytes) -> Secret:
        try:
            return Secret(self._fernet.decrypt(bytes(blob)).decode())
        except InvalidToken:
            raise ConfigError(
                "the stored tokens were encrypted with another QBO_TOKEN_KEY: set the same key, "
                "or re-authorize with `qbo-backfill auth login`"
            ) from None

    def fingerprint(self, value: Secret) -> str:
        """A keyed MAC, to recognise a token the user supplied before without storing it."""
        return hmac.new(self._mac_key, value.reveal().encode(), hashlib.sha256).hexdigest()


def _local_key(home: Path) -> Secret:
    path = home / "token.key"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(Fernet.generate_key().decode())
    return Secret(path.read_text().strip())


@dataclass(frozen=True)
class TokenStatus:
    """What `auth status` shows: never a token, only dates."""

    realm_id: str
    environment: str
    access_expires_at: datetime | None
    refresh_expires_at: datetime | None
    refresh_hard_expires_at: datetime | None
    rotated_at: datetime | None
    refreshed_at: datetime | None


class TokenStore:
    """Rows of `qbo_backfill_tokens`, one per realm, tokens encrypted."""

    def __init__(
        self, url: str, schema: str, cipher: TokenCipher, pool: ConnectionPool | None = None
    ) -> None:
        self.url = url
        self.schema = schema
        self.cipher = cipher
        self.pool = pool  # a long-lived process's connections; else one per transaction
        self._table = sql.Identifier(schema, TOKEN_TABLE)

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        if self.pool is None:
            with connect(self.url) as conn:
                yield conn
        else:
            with self.pool.connection() as conn:
                yield conn

    def ensure_table(self, conn: psycopg.Connection) -> None:
        exists = conn.execute("SELECT to_regclass(%s)", (self._table.as_string(conn),)).fetchone()
        if exists and exists[0] is not None:
            return  # no DDL lock for the common case: refreshes stay independent
        conn.execute(DDL_LOCK)
        ensure_schema(conn, self.schema)
        conn.execute(sql.SQL(_DDL).format(table=self._table))

    def save_grant(self, realm_id: str, environment: str, grant: TokenGrant) -> None:
        """Store a fresh grant (auth login): the new refresh token replaces any other."""
        with self._connection() as conn, conn.transaction():
            self.ensure_table(conn)
            self._upsert_refresh_token(conn, realm_id, environment, grant.refresh_token, None)
            self._write_grant(conn, realm_id, grant, rotated=True)

    def import_token(self, realm_id: str, environment: str, token: Secret, *, force: bool) -> bool:
        """Import a user-supplied refresh token once; True if it was imported.

        The stored token wins afterwards (it is newer: Intuit rotated it) until the user
        supplies a different one than the one imported, or `force` is given.
        """
        with self._connection() as conn, conn.transaction():
            self.ensure_table(conn)
            row = self._locked_row(conn, realm_id)
            mac = self.cipher.fingerprint(token)
            if row is not None and row["supplied_mac"] == mac and not force:
                return False
            self._upsert_refresh_token(conn, realm_id, environment, token, mac)
            return True

    def status(self) -> list[TokenStatus]:
        with self._connection() as conn:
            self.ensure_table(conn)
            conn.commit()
            rows = conn.cursor(row_factory=dict_row).execute(
                sql.SQL(
                    "SELECT realm_id, environment, access_expires_at, refresh_expires_at, "
                    "refresh_hard_expires_at, rotated_at, refreshed_at FROM {} ORDER BY realm_id"
                ).format(self._table)
            )
            return [TokenStatus(**row) for row in rows]

    def access_token(
        self, realm_id: str, credentials: ClientCredentials, rejected: str | None
    ) -> tuple[Secret, datetime]:
        """A valid access token: the stored one, or a refreshed one saved before returning.

        `rejected` is an access token the API just answered 401 to: never return it again.
        The common case, a stored token still valid, is one read; only a refresh locks the
        company's row, so two processes never spend one refresh token twice.
        """
        with self._connection() as conn:
            conn.autocommit = True  # the pool's reset (or the close) turns it off again
            stored = self._stored_access_token(conn, realm_id, rejected)
            if stored is not None:
                return stored
            conn.autocommit = False
            return self._refreshed_access_token(conn, realm_id, credentials, rejected)

    def _stored_access_token(
        self, conn: psycopg.Connection, realm_id: str, rejected: str | None
    ) -> tuple[Secret, datetime] | None:
        """The stored access token if still usable, read without a lock or a transaction."""
        query = sql.SQL(
            "SELECT access_token_enc, access_expires_at FROM {} WHERE realm_id = %s"
        ).format(self._table)
        try:
            row = conn.cursor(row_factory=dict_row).execute(query, (realm_id,)).fetchone()
        except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
            return None  # the locked path makes the table, and finds no token
        current = None if row is None else self._usable_access_token(row, rejected)
        return None if current is None or row is None else (current, row["access_expires_at"])

    def _refreshed_access_token(
        self,
        conn: psycopg.Connection,
        realm_id: str,
        credentials: ClientCredentials,
        rejected: str | None,
    ) -> tuple[Secret, datetime]:
        """Under the row's lock: the stored token if another process just refreshed it,
        else a refreshed one, saved before returning."""
        with conn.transaction():
            self.ensure_table(conn)
            row = self._locked_row(conn, realm_id)
            if row is None:
                raise ReauthorizeError(
                    f"no refresh token is stored for realm {realm_id}: {REAUTHORIZE_HINT}"
                )
            current = self._usable_access_token(row, rejected)
            if current is not None:
                return current, row["access_expires_at"]
            spent = self.cipher.decrypt(row["refresh_token_enc"])
            grant = refresh_grant(credentials, spent)
            self._write_grant(conn, realm_id, grant, rotated=grant.refresh_token != spent)
            return grant.access_token, grant.access_expires_at

    def _usable_access_token(self, row: dict, rejected: str | None) -> Secret | None:
        if row["access_token_enc"] is None or row["access_expires_at"] is None:
            return None
        if row["access_expires_at"] - EXPIRY_MARGIN <= datetime.now(UTC):
            return None
        token = self.cipher.decrypt(row["access_token_enc"])
        return None if token.reveal() == rejected else token

    def _locked_row(self, conn: psycopg.Connection, realm_id: str) -> dict | None:
        query = sql.SQL("SELECT * FROM {} WHERE realm_id = %s FOR UPDATE").format(self._table)
        return conn.cursor(row_factory=dict_row).execute(query, (realm_id,)).fetchone()

    def _upsert_refresh_token(
        self,
        conn: psycopg.Connection,
        realm_id: str,
        environment: str,
        token: Secret,
        mac: str | None,
    ) -> None:
        conn.execute(
            sql.SQL(_UPSERT_REFRESH).format(table=self._table),
            (realm_id, environment, self.cipher.encrypt(token), mac),
        )

    def _write_grant(
        self, conn: psycopg.Connection, realm_id: str, grant: TokenGrant, *, rotated: bool
    ) -> None:
        conn.execute(
            sql.SQL(_WRITE_GRANT).format(table=self._table),
            {
                "realm_id": realm_id,
                "refresh": self.cipher.encrypt(grant.refresh_token),
                "access": self.cipher.encrypt(grant.access_token),
                "access_exp": grant.access_expires_at,
                "refresh_exp": grant.refresh_expires_at,
                "hard_exp": grant.refresh_hard_expires_at,
                "rotated": rotated,
            },
        )


_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    realm_id TEXT PRIMARY KEY,
    environment TEXT NOT NULL,
    refresh_token_enc BYTEA NOT NULL,
    access_token_enc BYTEA,
    access_expires_at TIMESTAMPTZ,
    refresh_expires_at TIMESTAMPTZ,
    refresh_hard_expires_at TIMESTAMPTZ,
    supplied_mac TEXT,
    rotated_at TIMESTAMPTZ,
    refreshed_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""
_UPSERT_REFRESH = """
INSERT INTO {table} (realm_id, environment, refresh_token_enc, supplied_mac, rotated_at)
VALUES (%s, %s, %s, %s, now())
ON CONFLICT (realm_id) DO UPDATE SET
    environment = EXCLUDED.environment,
    refresh_token_enc = EXCLUDED.refresh_token_enc,
    supplied_mac = COALESCE(EXCLUDED.supplied_mac, {table}.supplied_mac),
    access_token_enc = NULL, access_expires_at = NULL,
    rotated_at = now(), updated_at = now()
"""
_WRITE_GRANT = """
UPDATE {table} SET
    refresh_token_enc = %(refresh)s,
    access_token_enc = %(access)s,
    access_expires_at = %(access_exp)s,
    refresh_expires_at = COALESCE(%(refresh_exp)s, refresh_expires_at),
    refresh_hard_expires_at = COALESCE(%(hard_exp)s, refresh_hard_expires_at),
    rotated_at = CASE WHEN %(rotated)s THEN now() ELSE rotated_at END,
    refreshed_at = now(), updated_at = now()
WHERE realm_id = %(realm_id)s
"""


class TokenProvider:
    """Access tokens for the async client: cached in memory, refreshed through the store."""

    def __init__(self, store: TokenStore, realm_id: str, credentials: ClientCredentials) -> None:
        self.store = store
        self.realm_id = realm_id
        self.credentials = credentials
        self._token: Secret | None = None
        self._expires_at = datetime.min.replace(tzinfo=UTC)
        self._lock = asyncio.Lock()

    async def access_token(self) -> str:
        """The current access token, refreshed only when it is about to expire."""
        if self._token is not None and self._expires_at - EXPIRY_MARGIN > datetime.now(UTC):
            return self._token.reveal()
        async with self._lock:
            if self._token is None or self._expires_at - EXPIRY_MARGIN <= datetime.now(UTC):
                await self._load(rejected=None)
            if self._token is None:
                raise ReauthorizeError(f"no access token for realm {self.realm_id}")
            return self._token.reveal()

    async def reject(self, token: str) -> None:
        """The API answered 401 to `token`: get another one before the next call."""
        async with self._lock:
            if self._token is not None and self._token.reveal() == token:
                await self._load(rejected=token)

    async def _load(self, rejected: str | None) -> None:
        token, expires = await asyncio.to_thread(
            self.store.access_token, self.realm_id, self.credentials, rejected
        )
        self._token, self._expires_at = token, expires
