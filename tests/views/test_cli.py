"""`qbo-backfill views`: creates the views and says so in one line; bad input is one line
and exit 2, with nothing created."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
from tests.helpers import SRC, run_cli, views_schema_of

from qbo_backfill.errors import EXIT_BAD_INPUT, EXIT_OK
from qbo_backfill.views.catalog import definitions

pytestmark = pytest.mark.db


def _env(database_url: str, schema: str, home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(SRC),
        "QBO_DATABASE_URL": database_url,
        "QBO_SCHEMA": schema,
        "QBO_VIEWS_SCHEMA": views_schema_of(schema),
        "QBO_HOME": str(home),
    }


def _views(database_url: str, schema: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM information_schema.views WHERE table_schema = %s", (schema,)
        ).fetchone()
    return int(row[0]) if row else 0


def test_views_command_creates_every_view(
    database_url: str, schema: str, home: Path, tmp_path: Path
) -> None:
    done = run_cli(["views"], _env(database_url, schema, home), tmp_path)
    assert done.returncode == EXIT_OK, done.stderr
    views = views_schema_of(schema)
    assert f"{len(definitions())} views in schema {views} (every company)" in done.stdout
    assert "every view is empty: no raw table" in done.stdout
    assert _views(database_url, views) == len(definitions())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--realm", "abc"], "the realm id must be digits"),
        (["--schema", ""], "--schema needs a schema name"),
        (["--schema", "x" * 64], "schema name must be 1 to 63 bytes"),
        (["--frobnicate"], "No such option"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    database_url: str, schema: str, home: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    done = run_cli(["views", *args], _env(database_url, schema, home), tmp_path)
    assert done.returncode == EXIT_BAD_INPUT
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
    assert _views(database_url, views_schema_of(schema)) == 0
