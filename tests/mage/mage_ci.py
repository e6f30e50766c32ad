"""The Mage CI job: the real pipelines, run headless with `mage run`, against the local
sandbox (a separate process, over HTTP) and a real PostgreSQL (QBO_DATABASE_URL).

Run by `.ci/mage.sh` with the Python of the Mage environment (mage-ai and qbo-backfill
installed together). Every check prints `ok:` or `FAIL:`; the last line counts them and
the exit code is 1 when any failed. The QBO credentials reach the blocks only as Mage
Secrets (created the way the UI does), so the secret path is exercised too.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "mage"
BIN = Path(sys.executable).parent
MAGE = str(BIN / "mage")
YEAR_2025 = {"start_date": "2025-01-01", "end_date": "2026-01-01", "chunk_days": 7}
RUNS: dict[str, tuple[str, dict[str, Any]]] = {
    "qb_customer_backfill": ("Customer", {"page_size": 50}),
    "qb_item_backfill": ("Item", {"page_size": 20}),
    "qb_invoice_backfill": ("Invoice", YEAR_2025 | {"page_size": 100}),
}
SANDBOX_ARGS = ["--customers", "120", "--items", "40", "--invoices", "900"]
# Short-lived access tokens: every `mage run` refreshes, so rotated refresh tokens must be
# kept between runs (the token store) or the next run fails with invalid_grant.
SANDBOX_ARGS += ["--access-token-ttl", "62", "--rate-limit-per-min", "0"]
RUN_TIMEOUT = 300


class Checks:
    """Counts checks; prints one line each."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"ok: {what}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL: {what}{': ' + detail if detail else ''}", flush=True)
        return ok


@contextmanager
def sandbox() -> Iterator[dict[str, str]]:
    """`python -m qbo_backfill.sandbox serve --port 0` as its own process; its JSON line."""
    command = [sys.executable, "-m", "qbo_backfill.sandbox", "serve", "--port", "0"]
    proc = subprocess.Popen(
        [*command, *SANDBOX_ARGS], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.strip():
            raise SystemExit("FAIL: the sandbox printed no JSON line (did it start?)")
        yield json.loads(line)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def create_mage_secrets(env: dict[str, str], values: dict[str, str]) -> None:
    """Mage Secrets in this run's fresh Mage data directory, as the UI would store them."""
    code = (
        "import json, sys\n"
        "from mage_ai.settings.repo import set_repo_path\n"
        f"set_repo_path({str(PROJECT)!r})\n"
        "from mage_ai.orchestration.db import db_connection\n"
        "from mage_ai.orchestration.db.database_manager import database_manager\n"
        "database_manager.run_migrations()\n"
        "db_connection.start_session()\n"
        "from mage_ai.data_preparation.shared.secrets import create_secret\n"
        "for name, value in json.load(sys.stdin).items():\n"
        "    create_secret(name, value)\n"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(values),
        env=env,
        text=True,
        capture_output=True,
        check=True,
        timeout=RUN_TIMEOUT,
    )


def mage_run(env: dict[str, str], pipeline: str, variables: str | None) -> tuple[int, str]:
    """`mage run mage <pipeline> [--runtime-vars JSON]` from the repo root: (exit, output)."""
    command = [MAGE, "run", "mage", pipeline]
    if variables is not None:
        command += ["--runtime-vars", variables]
    done = subprocess.run(
        command,
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def source_counts(base_url: str, realm: str) -> dict[str, int]:
    """What the sandbox holds, from its admin API: the numbers the tables must reach."""
    counts = {}
    with httpx.Client(base_url=base_url, timeout=30) as http:
        for entity in ("Customer", "Item", "Invoice"):
            records = http.get(f"/_sandbox/realms/{realm}/{entity}").raise_for_status()
            found = records.json()["records"]
            if entity == "Invoice":
                found = [r for r in found if r["TxnDate"].startswith("2025-")]
            counts[entity] = len(found)
    return counts


def table_counts(url: str, schema: str, realm: str) -> dict[str, tuple[int, int]]:
    """Per raw table: (rows of the realm, distinct ids of the realm)."""
    counts = {}
    with psycopg.connect(url) as conn:
        for entity in ("Customer", "Item", "Invoice"):
            table = sql.Identifier(schema, f"qb_{entity.lower()}")
            row = conn.execute(
                sql.SQL("SELECT count(*), count(DISTINCT id) FROM {} WHERE realm_id = %s").format(
                    table
                ),
                (realm,),
            ).fetchone()
            counts[entity] = (int(row[0]), int(row[1])) if row else (0, 0)
    return counts


def newest_run_figures(url: str, schema: str, entity: str) -> dict[str, int]:
    """Inserted, updated and unchanged rows of the entity's newest ledger run."""
    query = sql.SQL(
        "SELECT coalesce(sum(rows_inserted), 0), coalesce(sum(rows_updated), 0), "
        "coalesce(sum(rows_unchanged), 0), count(*) FILTER (WHERE status = 'done'), count(*) "
        "FROM {chunks} WHERE run_id = (SELECT max(run_id) FROM {runs} WHERE entity = %s)"
    ).format(
        chunks=sql.Identifier(schema, "qbo_backfill_chunks"),
        runs=sql.Identifier(schema, "qbo_backfill_runs"),
    )
    with psycopg.connect(url) as conn:
        row = conn.execute(query, (entity,)).fetchone()
    names = ("inserted", "updated", "unchanged", "chunks_done", "chunks")
    return dict(zip(names, (int(v) for v in row or (0,) * 5), strict=True))


def stored_refresh_token(url: str, schema: str, realm: str, key: str) -> str:
    """The refresh token the token store holds for the realm, decrypted."""
    from qbo_backfill.auth.tokens import TOKEN_TABLE, TokenCipher
    from qbo_backfill.settings import Secret

    with psycopg.connect(url) as conn:
        row = conn.execute(
            sql.SQL("SELECT refresh_token_enc FROM {} WHERE realm_id = %s").format(
                sql.Identifier(schema, TOKEN_TABLE)
            ),
            (realm,),
        ).fetchone()
    return TokenCipher(Secret(key)).decrypt(row[0]).reveal() if row else ""


def check_trigger_files(checks: Checks) -> None:
    """Mage's own parser reads every triggers.yaml; the glue accepts every variable set."""
    from mage_ai.data_preparation.models.triggers import load_trigger_configs

    from qbo_backfill.entities import resolve_entity
    from qbo_backfill.errors import ConfigError
    from qbo_backfill.integrations.mage.variables import parse_run_variables

    for pipeline, (entity, _) in RUNS.items():
        path = PROJECT / "pipelines" / pipeline / "triggers.yaml"
        try:
            found = load_trigger_configs(
                path.read_text(), pipeline_uuid=pipeline, repo_path=str(PROJECT)
            )
            for trigger in found:
                parse_run_variables(trigger.variables, resolve_entity(entity), argv=[])
        except (ConfigError, ValueError, KeyError) as exc:
            checks.check(False, f"{pipeline}: triggers.yaml", str(exc))
            continue
        names = ", ".join(t.name for t in found)
        good = bool(found) and all(t.schedule_interval == "@once" for t in found)
        checks.check(good, f"{pipeline}: Mage reads its one-time triggers ({names})")


def run_and_check(
    checks: Checks, env: dict[str, str], pipeline: str, variables: dict[str, Any]
) -> str:
    started = time.monotonic()
    code, output = mage_run(env, pipeline, json.dumps(variables))
    took = time.monotonic() - started
    good = code == 0 and "Pipeline run completed." in output and "reconciled" in output
    checks.check(good, f"mage run {pipeline} exit {code} in {took:.1f}s", output[-3000:])
    checks.check(
        "in database" in output and "retries" in output,
        f"{pipeline}: block logs carry per-chunk rows extracted vs in database and retries",
    )
    return output


def expect_failure(
    checks: Checks,
    env: dict[str, str],
    pipeline: str,
    variables: str,
    message: str,
    what: str,
) -> None:
    code, output = mage_run(env, pipeline, variables)
    flat = " ".join(output.split())
    checks.check(code != 0 and message in flat, what, f"exit {code}; {output[-2000:]}")


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new database on the server, dropped afterwards; its URL.

    A database of its own, not only a schema: the ledger's chunk locks are PostgreSQL
    advisory locks, which are database-wide, so another run in another schema of the
    same database could hold the same lock keys at the same moment.
    """
    name = f"qbo_mage_ci_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def main() -> int:
    checks = Checks()
    server = os.environ.get("QBO_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    schema = f"mage_ci_{secrets.token_hex(4)}"
    token_key = secrets.token_urlsafe(24)
    check_trigger_files(checks)
    with (
        tempfile.TemporaryDirectory(prefix="mage-ci-") as tmp,
        fresh_database(server) as url,
        sandbox() as box,
    ):
        print(f"database {urlsplit(url).path[1:]}, schema {schema}", flush=True)
        realm = box["realm_id"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("QBO_", "PG_"))}
        env |= {
            "MAGE_DATA_DIR": str(Path(tmp) / "mage_data"),
            "QBO_HOME": str(Path(tmp) / "home"),
            "QBO_API_BASE_URL": box["base_url"],
            "QBO_TOKEN_URL": box["token_url"],
            "QBO_DATABASE_URL": url,
            "QBO_SCHEMA": schema,
            "QBO_VIEWS_SCHEMA": schema + "_views",
            "QBO_TOKEN_KEY": token_key,
        }
        mage_secrets = {
            "qb_client_id": box["client_id"],
            "qb_client_secret": box["client_secret"],
            "qb_realm_id": realm,
            "qb_refresh_token": box["refresh_token"],
        }
        create_mage_secrets(env, mage_secrets)
        checks.check(True, "Mage Secrets created: " + ", ".join(mage_secrets))
        try:
            scenario(checks, env, url, schema, box, token_key)
        except (psycopg.Error, httpx.HTTPError, subprocess.SubprocessError, KeyError) as exc:
            checks.check(False, "the scenario ran to its end", f"{type(exc).__name__}: {exc}")
    print(f"mage pipelines: {checks.passed} passed, {checks.failed} failed", flush=True)
    return 1 if checks.failed else 0


def scenario(
    checks: Checks,
    env: dict[str, str],
    url: str,
    schema: str,
    box: dict[str, str],
    token_key: str,
) -> None:
    realm = box["realm_id"]
    expect_failure(
        checks,
        env,
        "qb_invoice_backfill",
        '{"start_date": "2025-01-01", ',
        "--runtime-vars is not valid JSON",
        "malformed --runtime-vars fails the run instead of running the defaults",
    )
    expect_failure(
        checks,
        env,
        "qb_invoice_backfill",
        json.dumps({"start_date": "2025-01-01"}),
        "end_date missing",
        "an invoice run without end_date fails with a clear message",
    )
    expect_failure(
        checks,
        env,
        "qb_invoice_backfill",
        json.dumps(YEAR_2025 | {"chunk_days": 0}),
        "chunk_days must be a whole number from 1",
        "chunk_days 0 fails with a clear message",
    )

    outputs = [run_and_check(checks, env, p, v) for p, (_, v) in RUNS.items()]
    expected = source_counts(box["base_url"], realm)
    first = table_counts(url, schema, realm)
    for entity, want in expected.items():
        got = first[entity]
        checks.check(
            got == (want, want) and want > 0,
            f"qb_{entity.lower()}: {got[0]} rows, {got[1]} distinct ids; sandbox has {want}",
        )

    again = [run_and_check(checks, env, p, v | {"force": True}) for p, (_, v) in RUNS.items()]
    second = table_counts(url, schema, realm)
    checks.check(second == first, f"second run (force): same counts, no duplicates {second}")
    for entity, want in expected.items():
        figures = newest_run_figures(url, schema, entity)
        checks.check(
            figures["inserted"] == 0 == figures["updated"] and figures["unchanged"] == want,
            f"{entity}: the forced re-run re-extracted {figures['unchanged']} rows, all "
            f"unchanged ({figures['inserted']} inserted, {figures['updated']} updated)",
        )

    code, resumed = mage_run(env, "qb_invoice_backfill", json.dumps(YEAR_2025 | {"page_size": 100}))
    checks.check(
        code == 0 and "53 chunks, 53 already done (skipped)" in resumed,
        "a one-time trigger firing again only resumes its completed run (53 chunks skipped)",
        resumed[-2000:],
    )

    outputs.append(sync_and_check(checks, env, url, schema, box))

    current = httpx.get(f"{box['base_url']}/_sandbox/tokens", timeout=30).json()
    newest = current["refresh_tokens"][realm]
    checks.check(
        newest != box["refresh_token"],
        "the sandbox rotated the refresh token during the runs",
    )
    checks.check(
        stored_refresh_token(url, schema, realm, token_key) == newest,
        "the token store holds the newest rotated refresh token",
    )
    leaked = [
        name
        for name, value in (
            ("client secret", box["client_secret"]),
            ("first refresh token", box["refresh_token"]),
            ("rotated refresh token", newest),
        )
        if any(value in text for text in [*outputs, *again, resumed])
    ]
    checks.check(not leaked, "no secret appears in any run's output", ", ".join(leaked))

    httpx.post(f"{box['base_url']}/_sandbox/tokens/revoke", timeout=30).raise_for_status()
    expect_failure(
        checks,
        env,
        "qb_customer_backfill",
        "{}",
        "Mage secret qb_refresh_token",
        "a refused refresh token (invalid_grant) fails the token check, saying what to do",
    )


def sync_and_check(
    checks: Checks, env: dict[str, str], url: str, schema: str, box: dict[str, str]
) -> str:
    """Delete an invoice and edit a customer at the sandbox, run `qb_sync`: the invoice is
    marked deleted (payload kept) and the customer's edit arrives."""
    admin = f"{box['base_url']}/_sandbox/realms/{box['realm_id']}"
    with psycopg.connect(url) as conn:  # an invoice the pipelines copied (2025 only)
        (invoice,) = conn.execute(
            sql.SQL("SELECT min(id) FROM {}").format(sql.Identifier(schema, "qb_invoice"))
        ).fetchone() or (None,)
    with httpx.Client(timeout=30) as http:
        customer = http.get(f"{admin}/Customer").raise_for_status().json()["records"][0]["Id"]
        http.delete(f"{admin}/Invoice/{invoice}").raise_for_status()
        http.post(f"{admin}/Customer/{customer}", json={"Notes": "synced"}).raise_for_status()
    code, output = mage_run(env, "qb_sync", None)
    checks.check(code == 0, f"mage run qb_sync exit {code}", output[-3000:])
    with psycopg.connect(url) as conn:
        marked = conn.execute(
            sql.SQL(
                "SELECT deleted_at_utc IS NOT NULL, payload->>'Id' FROM {} WHERE id = %s"
            ).format(sql.Identifier(schema, "qb_invoice")),
            (int(invoice),),
        ).fetchone()
        notes = conn.execute(
            sql.SQL("SELECT payload->>'Notes' FROM {} WHERE id = %s").format(
                sql.Identifier(schema, "qb_customer")
            ),
            (int(customer),),
        ).fetchone()
    checks.check(
        marked == (True, str(invoice)) and notes == ("synced",),
        f"qb_sync: invoice {invoice} marked deleted (payload kept), customer {customer} updated",
        f"{marked} {notes}",
    )
    return output


if __name__ == "__main__":
    sys.exit(main())
