"""Helpers for the operator tests: the CLI as a subprocess with an explicit environment,
and the secrets a test must never see in output."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from tests.engine.helpers import sandbox_env as engine_env

from qbo_backfill.auth.tokens import TokenCipher
from qbo_backfill.sandbox import Sandbox
from qbo_backfill.settings import Settings

QBO = str(Path(sys.executable).with_name("qbo-backfill"))
TOKEN_KEY = "operator-tests-token-key-0123456789"


@dataclass
class Cli:
    """The installed `qbo-backfill` command, run with exactly the environment given."""

    env: dict[str, str]
    cwd: Path

    def run(
        self, *args: str, stdin: str | None = None, timeout: float = 240, **extra_env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [QBO, *args],
            env=self.env | extra_env,
            cwd=self.cwd,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str, **extra_env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [QBO, *args],
            env=self.env | extra_env,
            cwd=self.cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def settings(self) -> Settings:
        return Settings.load({}, environ=self.env, dotenv_path=None)

    def cipher(self) -> TokenCipher:
        return TokenCipher.from_settings(self.settings())


def sandbox_env(sb: Sandbox, database_url: str, schema: str, home: Path) -> dict[str, str]:
    """The engine tests' environment, plus the authorize page and a fixed token key (so a
    test can decrypt the store and look for its tokens in the output)."""
    return engine_env(
        sb,
        database_url,
        schema,
        home,
        QBO_AUTHORIZE_URL=sb.info.authorize_url,
        QBO_TOKEN_KEY=TOKEN_KEY,
        QBO_THROTTLE_WAIT_SECONDS="0.2",
    )


def stored_secrets(database_url: str, schema: str, cipher: TokenCipher) -> list[str]:
    """Every token the store holds, decrypted: none may ever appear in output."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            sql.SQL("SELECT refresh_token_enc, access_token_enc FROM {}").format(
                sql.Identifier(schema, "qbo_backfill_tokens")
            )
        ).fetchall()
    return [cipher.decrypt(blob).reveal() for row in rows for blob in row if blob is not None]


AssertNoSecrets = Callable[[Iterable[str], Iterable[str]], None]
