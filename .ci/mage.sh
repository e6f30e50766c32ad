#!/usr/bin/env bash
# The Mage AI job. Installs this package with its `mage` extra (mage-ai==0.9.80) in one pip
# command, as the Dockerfile does, into .venv-mage (its own environment: Mage's pins never reach .venv), then runs the
# pipelines qb_customer_backfill, qb_item_backfill and qb_invoice_backfill headless with
# `mage run` against the local sandbox (a separate process) and the server PostgreSQL, and
# checks the tables, a second run, the token store and the failure messages
# (tests/mage/mage_ci.py). If Mage cannot be installed or run, it says so and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

MAGE_VERSION=0.9.80
VENV=.venv-mage
PYTHON=${PYTHON:-python3.11}
export QBO_DATABASE_URL=${QBO_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}

step() { printf '\n=== %s\n' "$*"; }
fail() {
  printf '\nFAIL (Mage job): %s\n' "$*" >&2
  exit 1
}

step "Python 3.11 for Mage"
command -v "$PYTHON" >/dev/null || fail "no $PYTHON here: this job installs Mage AI on Python 3.11"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' ||
  fail "$PYTHON is older than 3.11, which qbo-backfill needs"
"$PYTHON" --version

step "$VENV: qbo-backfill and mage-ai==$MAGE_VERSION in one pip command (.[mage])"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV" || fail "could not create the virtual environment $VENV"
else
  echo "reusing $VENV"
fi
log="$VENV/pip-install.log"
if ! "$VENV/bin/pip" install --disable-pip-version-check ".[mage]" >"$log" 2>&1; then
  grep -v '^WARNING: Location' "$log" | tail -40 >&2
  fail "pip could not install mage-ai==$MAGE_VERSION together with this package (output above)"
fi
"$VENV/bin/pip" check || fail "the Mage environment has broken requirements (pip check above)"
installed=$("$VENV/bin/python" -c 'from importlib.metadata import version as v; print(v("mage-ai"), v("qbo-backfill"))') ||
  fail "mage-ai or qbo-backfill is not importable in $VENV"
echo "mage-ai and qbo-backfill installed: $installed"
[ "${installed%% *}" = "$MAGE_VERSION" ] || fail "expected mage-ai $MAGE_VERSION, found ${installed%% *}"
[ -x "$VENV/bin/mage" ] || fail "the mage command is missing from $VENV/bin"

step "PostgreSQL server"
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi
pg_isready -h 127.0.0.1 -p 5432 || fail "no PostgreSQL server at 127.0.0.1:5432"

step "mage run: the three pipelines against the local sandbox and PostgreSQL"
"$VENV/bin/python" tests/mage/mage_ci.py || fail "a Mage pipeline check failed (lines marked FAIL above)"
